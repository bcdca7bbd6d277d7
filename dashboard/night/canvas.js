// The night view's browser side: the keogram stack, the time cursor, the movies in step, the map's
// highlights and the keys. Record text only ever reaches the page through textContent or escaped
// attributes made in Python; image and movie sources must be data: URIs of the expected kind.
const okImage = (s) => typeof s === "string" && /^data:image\/(png|jpeg|gif|webp);base64,/.test(s);
const okVideo = (s) => typeof s === "string" && /^data:video\/(mp4|webm);base64,/.test(s);
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text != null) e.textContent = text;
  return e;
}
const pad = (n) => String(n).padStart(2, "0");
function clockOf(ms) {
  const d = new Date(ms);
  return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
}

export function render({ model, el: root }) {
  const wrap = el("div", { class: "nv" });
  // --- transport bar --------------------------------------------------------------------------
  const bar = el("div", { class: "nv-bar", role: "toolbar", "aria-label": "Cursor and movies" });
  const play = el("button", { type: "button", class: "nv-play", "aria-label": "Play" }, "▶ Play");
  const back = el("button", { type: "button", "aria-label": "Previous frame" }, "◀ frame");
  const fwd = el("button", { type: "button", "aria-label": "Next frame" }, "frame ▶");
  const speedLabel = el("label", {}, "Speed ");
  const speed = el("select", { class: "nv-speed", "aria-label": "Playback speed" });
  for (const s of SPEEDS) {
    const o = el("option", { value: String(s) }, s + "×");
    speed.appendChild(o);
  }
  speedLabel.appendChild(speed);
  const readout = el("output", { class: "nv-time", "aria-live": "off" }, "");
  const live = el("span", { class: "nv-sr", "aria-live": "polite", role: "status" }, "");
  const help = el("button", { type: "button", class: "nv-help-btn", "aria-label": "Keyboard shortcuts", "aria-expanded": "false" }, "Keys (?)");
  bar.append(play, back, fwd, speedLabel, readout, help, live);

  // --- the stack ------------------------------------------------------------------------------
  const stack = el("div", { class: "nv-stack" });
  const topAxis = el("div", { class: "nv-axis nv-axis-top", "aria-hidden": "true" });
  const rowsBox = el("div", { class: "nv-rows" });
  const bottomAxis = el("div", { class: "nv-axis nv-axis-bottom", "aria-hidden": "true" });
  const overlay = el("div", { class: "nv-overlay", "aria-hidden": "true" });
  const cursorLine = el("div", { class: "nv-cursor" });
  const hoverLine = el("div", { class: "nv-hover" });
  const hoverTip = el("div", { class: "nv-tip" });
  overlay.append(hoverLine, cursorLine, hoverTip);
  const track = el("div", {
    class: "nv-track-area", tabindex: "0", role: "slider", "aria-label": "Time cursor (click a time; ← → move it)",
    "aria-valuemin": "0", "aria-valuemax": "86400",
  });
  track.append(topAxis, rowsBox, bottomAxis, overlay);
  stack.append(track);

  // --- movies ---------------------------------------------------------------------------------
  const grid = el("div", { class: "nv-movies", role: "group", "aria-label": "Movies in step with the cursor" });
  const keys = el("div", { class: "nv-keys", role: "dialog", "aria-label": "Keyboard shortcuts", hidden: "" });
  const keyList = [
    ["← / →", "cursor −1 / +1 minute"], ["Shift + ← / →", "cursor −10 / +10 minutes"],
    ["j / ↓", "next night"], ["k / ↑", "previous night"], ["Space", "play / pause the movies"],
    [", / .", "one frame back / forward"], ["?", "show / hide these keys"], ["Esc", "close this list"],
  ];
  const dl = el("dl");
  for (const [k, v] of keyList) dl.append(el("dt", {}, k), el("dd", {}, v));
  keys.append(el("h3", {}, "Keys"), dl);
  const mapBox = el("div", { class: "nv-map" });
  const side = el("div", { class: "nv-side" });
  side.append(mapBox, grid);
  const body = el("div", { class: "nv-body" });
  body.append(stack, side);
  wrap.append(bar, body, keys);
  root.appendChild(wrap);

  // --- state ----------------------------------------------------------------------------------
  let cursor = model.cursor || 0;   // seconds from the window's start
  let playing = false;
  let last = 0, raf = 0, lastSync = 0, lastAnnounce = 0;
  let movies = [];                  // {spec, video, label, scrub, note}
  const axis = () => model.axis || { seconds: 86400, start_ms: 0, ticks: [] };
  const secs = () => axis().seconds || 86400;
  const rate = () => parseFloat(speed.value) || 1;

  function utMs(offset) { return axis().start_ms + offset * 1000; }
  function cursorText() { return clockOf(utMs(cursor)) + " UT"; }

  function drawAxis(box, which) {
    box.textContent = "";
    for (const t of axis().ticks || []) {
      const tick = el("span", { class: "nv-tick" }, which === "top" ? t.top : t.bottom);
      tick.style.left = (t.f * 100) + "%";
      box.appendChild(tick);
    }
    const title = el("span", { class: "nv-axis-title" }, which === "top" ? axis().top_title : axis().bottom_title);
    box.appendChild(title);
  }

  function keoNode(im) {
    // An image, or a labelled placeholder: loading (the image follows) or unavailable (says why).
    let node;
    if (okImage(im.src)) {
      node = el("img", { src: im.src, alt: im.alt, class: im.hourly ? "nv-keo nv-hourly" : "nv-keo", draggable: "false" });
    } else if (im.loading) {
      node = el("span", { class: "nv-missing nv-loading", role: "img", "aria-label": im.alt + " (loading)" }, "");
    } else {
      node = el("span", { class: "nv-missing", role: "img", "aria-label": im.alt }, im.note || "keogram unavailable");
    }
    node.style.left = (im.left * 100) + "%"; node.style.width = (im.width * 100) + "%";
    node._nvSrc = im.src || (im.loading ? "loading" : "missing");
    return node;
  }
  const shape = (rows) => JSON.stringify((rows || []).map((r) => [r.code, r.status, r.name, r.lat, r.note,
    (r.images || []).map((im) => [im.left, im.width, im.hourly])]));
  let drawnShape = "", drawnChosen = "";

  function drawRows() {
    const rows = model.rows || [];
    const s = shape(rows), c = JSON.stringify(model.chosen || []);
    if (s === drawnShape && c === drawnChosen) {
      // The same rows with more of their images ready: swap only the images that changed.
      rows.forEach((r, i) => {
        const lane = rowsBox.children[i] && rowsBox.children[i].querySelector(".nv-lane");
        const nodes = lane ? lane.querySelectorAll(".nv-keo, .nv-missing") : [];
        (r.images || []).forEach((im, k) => {
          const old = nodes[k];
          const want = im.src || (im.loading ? "loading" : "missing");
          if (old && old._nvSrc !== want) old.replaceWith(keoNode(im));
        });
      });
      return;
    }
    drawnShape = s; drawnChosen = c;
    rowsBox.textContent = "";
    const chosen = new Set(model.chosen || []);
    for (const r of rows) {
      const row = el("div", { class: "nv-row nv-" + r.status, "data-code": r.code });
      const label = el("button", {
        type: "button", class: "nv-label", "data-code": r.code,
        "aria-pressed": chosen.has(r.code) ? "true" : "false",
        title: "Add or remove the " + r.code + " movie",
      });
      const first = el("span", { class: "nv-l1" });
      first.append(el("strong", {}, r.code), el("span", { class: "nv-name" }, " " + r.name));
      label.append(first, el("span", { class: "nv-lat" }, r.status === "none" ? " " + r.lat : r.lat));
      label.addEventListener("click", () => model.send_msg({ type: "toggle", code: r.code }));
      const lane = el("div", { class: "nv-lane" });
      for (const im of r.images || []) lane.appendChild(keoNode(im));
      if (r.status === "none") lane.appendChild(el("span", { class: "nv-nodata" }, r.note || "no data"));
      row.append(label, lane);
      row.addEventListener("mouseenter", () => light(r.code, true));
      row.addEventListener("mouseleave", () => light(r.code, false));
      rowsBox.appendChild(row);
    }
  }

  function light(code, on) {
    for (const node of mapBox.querySelectorAll('[data-night-site="' + CSS.escape(code) + '"]')) node.classList.toggle("nv-lit", on);
    for (const row of rowsBox.querySelectorAll('.nv-row[data-code="' + CSS.escape(code) + '"]')) row.classList.toggle("nv-lit", on);
  }

  function laneRect() {
    const lane = rowsBox.querySelector(".nv-lane");
    return lane ? lane.getBoundingClientRect() : null;
  }

  function drawCursor() {
    const f = Math.max(0, Math.min(1, cursor / secs()));
    const lane = laneRect();
    const area = track.getBoundingClientRect();
    const left = lane ? lane.left - area.left : 0;
    const width = lane ? lane.width : area.width;
    cursorLine.style.left = (left + f * width) + "px";
    const text = cursorText();
    readout.textContent = text;
    track.setAttribute("aria-valuenow", String(Math.round(cursor)));
    track.setAttribute("aria-valuetext", text);
    wrap.dataset.cursor = String(cursor);
    const now = performance.now();
    if (!playing || now - lastAnnounce > 5000) { live.textContent = "Cursor " + text; lastAnnounce = now; }
  }

  function frameOf(m) {
    const s = m.spec, v = m.video;
    const d = v && isFinite(v.duration) && v.duration > 0 ? v.duration : null;
    return { d, n: s.frames || null };
  }
  // movie time <-> window seconds: the movie's frames spread evenly over its imaging span t0..t1
  function movieTimeFor(m, offset) {
    const { d, n } = frameOf(m);
    if (!d) return null;
    const span = Math.max(1, m.spec.t1 - m.spec.t0);
    const lastT = d - (n ? d / n / 2 : 1e-3);
    return Math.max(0, Math.min(lastT, (offset - m.spec.t0) / span * d));
  }
  function offsetFor(m, time) {
    const { d, n } = frameOf(m);
    if (!d) return null;
    const span = Math.max(1, m.spec.t1 - m.spec.t0);
    if (n) {
      const i = Math.min(n - 1, Math.floor(time / d * n));
      return m.spec.t0 + (i + 0.5) * span / n;
    }
    return m.spec.t0 + time / d * span;
  }
  function labelMovie(m) {
    const v = m.video;
    if (!v) return;
    const off = offsetFor(m, v.currentTime);
    if (off == null) return;
    let where = "";
    if (cursor < m.spec.t0) where = " (before imaging)";
    else if (cursor > m.spec.t1) where = " (after imaging)";
    m.label.textContent = m.spec.code + " · " + clockOf(utMs(off)) + " UT" + where;
    m.cell.dataset.frameOffset = String(off);
    const { d } = frameOf(m);
    if (d) m.scrub.value = String(Math.round(v.currentTime / d * 1000));
  }
  function seekAll(except) {
    for (const m of movies) {
      if (m === except || !m.video) continue;
      const t = movieTimeFor(m, cursor);
      if (t == null) continue;
      if (Math.abs(m.video.currentTime - t) > 1e-3) m.video.currentTime = t;
      labelMovie(m);
    }
  }

  function setCursor(offset, opts) {
    cursor = Math.max(0, Math.min(secs() - 1, offset));
    drawCursor();
    if (!opts || !opts.fromMovie) seekAll(opts && opts.except);
    const now = performance.now();
    if (!playing || now - lastSync > 250) { model.cursor = cursor; lastSync = now; }
  }

  function drawMovies() {
    for (const m of movies) if (m.video) { m.video.pause(); m.video.removeAttribute("src"); m.video.load(); }
    movies = [];
    grid.textContent = "";
    const specs = model.movies || [];
    grid.dataset.count = String(specs.length);
    for (const spec of specs) {
      const cell = el("figure", { class: "nv-movie", "data-code": spec.code });
      const label = el("figcaption", { class: "nv-movie-time" }, spec.code);
      const title = el("div", { class: "nv-movie-title", title: spec.title }, spec.title);
      if (spec.synthetic) title.appendChild(el("span", { class: "nv-badge" }, "synthetic demo movie"));
      const m = { spec, cell, label, video: null, scrub: null };
      if (okVideo(spec.src)) {
        const v = el("video", { muted: "", playsinline: "", preload: "auto", "aria-label": spec.title });
        v.muted = true;
        v.src = spec.src;
        v.addEventListener("loadedmetadata", () => { const t = movieTimeFor(m, cursor); if (t != null) v.currentTime = t; labelMovie(m); });
        v.addEventListener("seeked", () => labelMovie(m));
        v.addEventListener("ended", () => { if (playing) setPlaying(false); });
        m.video = v;
        const scrub = el("input", { type: "range", min: "0", max: "1000", value: "0", "aria-label": "Scrub the " + spec.code + " movie" });
        scrub.addEventListener("input", () => {
          const { d } = frameOf(m);
          if (!d) return;
          setPlaying(false);
          v.currentTime = parseInt(scrub.value, 10) / 1000 * d;
          const off = offsetFor(m, v.currentTime);
          if (off != null) setCursor(off, { except: m });
        });
        m.scrub = scrub;
        cell.append(title, v, label, scrub);
      } else {
        cell.append(title, el("div", { class: "nv-movie-missing", role: "img", "aria-label": spec.title + ": " + (spec.reason || "movie unavailable") }, spec.reason || "movie unavailable"), label);
      }
      movies.push(m);
      grid.appendChild(cell);
    }
  }

  // --- playing: one clock for all; the videos follow it and are corrected when they drift -----
  function baseRate() {
    // UT seconds per real second at 1×: the first movie's own pace, else one hour per second.
    for (const m of movies) { const { d } = frameOf(m); if (d) return Math.max(1, m.spec.t1 - m.spec.t0) / d; }
    return 3600;
  }
  function loop(now) {
    if (!playing) return;
    const dt = Math.min(0.25, (now - last) / 1000);
    last = now;
    let next = cursor + dt * rate() * baseRate();
    if (next >= secs() - 1) { next = secs() - 1; setPlaying(false); }
    cursor = next;
    drawCursor();
    for (const m of movies) {
      const t = movieTimeFor(m, cursor);
      if (t == null || !m.video) continue;
      const { d } = frameOf(m);
      const pr = (d / Math.max(1, m.spec.t1 - m.spec.t0)) * rate() * baseRate();
      if (cursor < m.spec.t0 || cursor > m.spec.t1) { if (!m.video.paused) m.video.pause(); }
      else {
        m.video.playbackRate = Math.max(0.0625, Math.min(16, pr));
        if (m.video.paused) { const p = m.video.play(); if (p && p.catch) p.catch(() => {}); }
        if (Math.abs(m.video.currentTime - t) > 0.25) m.video.currentTime = t;
      }
      labelMovie(m);
    }
    if (now - lastSync > 250) { model.cursor = cursor; lastSync = now; }
    raf = requestAnimationFrame(loop);
  }
  function setPlaying(p) {
    if (p === playing) return;
    playing = p;
    play.textContent = p ? "❚❚ Pause" : "▶ Play";
    play.setAttribute("aria-label", p ? "Pause" : "Play");
    wrap.dataset.playing = p ? "true" : "false";
    if (p) { last = performance.now(); raf = requestAnimationFrame(loop); }
    else {
      cancelAnimationFrame(raf);
      for (const m of movies) if (m.video) m.video.pause();
      seekAll();
      model.cursor = cursor;
    }
    model.playing = p;
    drawCursor();
  }
  function frameStep(k) {
    setPlaying(false);
    const m = movies.find((x) => frameOf(x).d && x.spec.frames);
    const step = m ? Math.max(1, m.spec.t1 - m.spec.t0) / m.spec.frames : 60;
    let target = cursor + k * step;
    if (m) {  // land on the centre of the neighbouring frame, so the cursor and that frame agree
      const t = movieTimeFor(m, cursor);
      const { d, n } = frameOf(m);
      const i = Math.max(0, Math.min(n - 1, Math.floor(t / d * n) + k));
      target = m.spec.t0 + (i + 0.5) * step;
    }
    setCursor(target);
  }

  // --- mouse and keys ----------------------------------------------------------------------------
  function offsetAt(clientX) {
    const lane = laneRect();
    if (!lane || clientX < lane.left || clientX > lane.right) return null;
    return (clientX - lane.left) / lane.width * secs();
  }
  rowsBox.addEventListener("mousemove", (e) => {
    const off = offsetAt(e.clientX);
    if (off == null) { hoverLine.style.display = "none"; hoverTip.style.display = "none"; return; }
    const area = track.getBoundingClientRect();
    hoverLine.style.display = "block"; hoverTip.style.display = "block";
    hoverLine.style.left = (e.clientX - area.left) + "px";
    hoverTip.style.left = (e.clientX - area.left + 8) + "px";
    hoverTip.style.top = (e.clientY - area.top + 12) + "px";
    hoverTip.textContent = clockOf(utMs(off)) + " UT";
  });
  rowsBox.addEventListener("mouseleave", () => { hoverLine.style.display = "none"; hoverTip.style.display = "none"; });
  rowsBox.addEventListener("click", (e) => {
    if (e.target.closest(".nv-label")) return;
    const off = offsetAt(e.clientX);
    if (off == null) return;
    setPlaying(false);
    setCursor(Math.round(off));
    track.focus({ preventScroll: true });
  });
  play.addEventListener("click", () => setPlaying(!playing));
  back.addEventListener("click", () => frameStep(-1));
  fwd.addEventListener("click", () => frameStep(1));
  speed.addEventListener("change", () => { model.speed = rate(); });
  help.addEventListener("click", () => toggleKeys());
  function toggleKeys(force) {
    const show = force != null ? force : keys.hasAttribute("hidden");
    if (show) keys.removeAttribute("hidden"); else keys.setAttribute("hidden", "");
    help.setAttribute("aria-expanded", show ? "true" : "false");
  }
  function onKey(e) {
    if (!wrap.isConnected || wrap.offsetParent === null) return;   // the view is hidden
    const target = e.composedPath()[0];
    const tag = target && target.tagName ? target.tagName.toLowerCase() : "";
    if (["input", "select", "textarea"].includes(tag) || (target && target.isContentEditable)) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    let handled = true;
    if (e.key === "ArrowLeft") { setPlaying(false); setCursor(cursor - (e.shiftKey ? 600 : 60)); }
    else if (e.key === "ArrowRight") { setPlaying(false); setCursor(cursor + (e.shiftKey ? 600 : 60)); }
    else if (e.key === "j" || e.key === "ArrowDown") model.send_msg({ type: "nav", step: 1 });
    else if (e.key === "k" || e.key === "ArrowUp") model.send_msg({ type: "nav", step: -1 });
    else if (e.key === " " && tag !== "button") setPlaying(!playing);
    else if (e.key === ",") frameStep(-1);
    else if (e.key === ".") frameStep(1);
    else if (e.key === "?") toggleKeys();
    else if (e.key === "Escape") toggleKeys(false);
    else handled = false;
    if (handled) e.preventDefault();
  }
  document.addEventListener("keydown", onKey);

  // --- the map: SVG made in Python (every text escaped there); sites toggle their movie ----------
  function drawMap() {
    mapBox.innerHTML = typeof model.map_svg === "string" && model.map_svg.startsWith("<svg") ? model.map_svg : "";
    const chosen = new Set(model.chosen || []);
    for (const node of mapBox.querySelectorAll("[data-night-site]")) {
      node.classList.toggle("nv-chosen", chosen.has(node.getAttribute("data-night-site")));
    }
  }
  function mapToggle(e) {
    const node = e.target.closest && e.target.closest("[data-night-site]");
    if (!node) return;
    if (e.type === "keydown" && e.key !== "Enter" && e.key !== " ") return;
    e.preventDefault(); e.stopPropagation();
    model.send_msg({ type: "toggle", code: node.getAttribute("data-night-site") });
  }
  mapBox.addEventListener("click", mapToggle);
  mapBox.addEventListener("keydown", mapToggle);
  mapBox.addEventListener("mouseover", (e) => {
    const node = e.target.closest && e.target.closest("[data-night-site]");
    for (const row of rowsBox.querySelectorAll(".nv-row.nv-lit")) row.classList.remove("nv-lit");
    if (node) for (const row of rowsBox.querySelectorAll('.nv-row[data-code="' + CSS.escape(node.getAttribute("data-night-site")) + '"]')) row.classList.add("nv-lit");
  });

  // --- model changes -------------------------------------------------------------------------
  function full() {
    drawAxis(topAxis, "top"); drawAxis(bottomAxis, "bottom"); drawRows();
    cursor = model.cursor || 0;
    requestAnimationFrame(drawCursor);
    drawCursor();
  }
  speed.value = String(model.speed || 1);
  model.on("axis", full);
  model.on("rows", () => { drawRows(); drawCursor(); });
  model.on("chosen", () => { drawRows(); drawMap(); });
  model.on("map_svg", drawMap);
  model.on("movies", () => { setPlaying(false); drawMovies(); });
  model.on("cursor", () => {
    if (Math.abs((model.cursor || 0) - cursor) < 0.5) return;   // our own update coming back
    cursor = model.cursor || 0; drawCursor(); seekAll();
  });
  model.on("playing", () => { if (model.playing !== playing) setPlaying(!!model.playing); });
  model.on("speed", () => { speed.value = String(model.speed); });
  const resize = new ResizeObserver(() => drawCursor());
  resize.observe(track);
  model.on("remove", () => { document.removeEventListener("keydown", onKey); resize.disconnect(); cancelAnimationFrame(raf); });
  full();
  drawMap();
  drawMovies();
}
