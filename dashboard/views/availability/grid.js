// The availability grid: DOM row labels and legend (textContent only), the cells on a canvas.
// Python sends one JSON text (`payload`); the browser sends back {type: "open", token, row, col}
// for a click and {type: "range", token, row0, col0, row1, col1} for a drag (or Shift+arrows, Enter).

const ROW_H = 18;
const GROUP_H = 24;
const HEAD_H = 34;
const LABEL_W = 210;
const MIN_PITCH = 11;
const MAX_PITCH = 30;
const STATUS_TEXT = {
  present: "present: products exist",
  partial: "partial: fewer products than usual for that much dark sky",
  missing: "missing: dark sky expected, no products",
  not_expected: "not expected: under an hour of dark sky, no products",
  unknown: "unknown: no products, the site's coordinates are not known",
  absent: "absent: no products (a source that does not need a dark sky)",
};
const MIN_HEAD_W = 64;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function palette(el) {
  const fg = getComputedStyle(el).color || "rgb(0,0,0)";
  const m = fg.match(/\d+(\.\d+)?/g) || [0, 0, 0];
  const dark = (0.299 * m[0] + 0.587 * m[1] + 0.114 * m[2]) > 140;  // light text: the dark theme
  return dark
    ? { fg, dark, present: "#56b4e9", presentText: "#0b1a24", partial: "#e69f00", missing: "#ff8a4c",
        dim: "rgba(235,235,235,0.45)", grid: "rgba(200,200,200,0.10)", sel: "#f0e442", halo: "#1b1b1f" }
    : { fg, dark, present: "#0072b2", presentText: "#ffffff", partial: "#b36b00", missing: "#d55e00",
        dim: "rgba(40,40,40,0.45)", grid: "rgba(0,0,0,0.06)", sel: "#000000", halo: "#ffffff" };
}

// One status glyph in the box (x, y, s): shape AND colour, so no status depends on colour alone.
function glyph(ctx, status, x, y, s, pal) {
  ctx.save();
  ctx.lineWidth = Math.max(1, s / 9);
  if (status === "present") {
    ctx.fillStyle = pal.present;
    ctx.fillRect(x, y, s, s);
  } else if (status === "partial") {
    ctx.strokeStyle = pal.partial;
    ctx.strokeRect(x + 0.5, y + 0.5, s - 1, s - 1);
    ctx.beginPath();
    ctx.rect(x, y, s, s);
    ctx.clip();
    const step = Math.max(3, s / 3);
    for (let d = -s; d < s; d += step) {
      ctx.moveTo(x + d, y + s);
      ctx.lineTo(x + d + s, y);
    }
    ctx.stroke();
  } else if (status === "missing") {
    ctx.strokeStyle = pal.missing;
    ctx.lineWidth = Math.max(1.5, s / 6);
    const p = Math.max(1, s * 0.15);
    ctx.beginPath();
    ctx.moveTo(x + p, y + p);
    ctx.lineTo(x + s - p, y + s - p);
    ctx.moveTo(x + s - p, y + p);
    ctx.lineTo(x + p, y + s - p);
    ctx.stroke();
  } else if (status === "not_expected") {
    ctx.fillStyle = pal.dim;
    ctx.beginPath();
    ctx.arc(x + s / 2, y + s / 2, Math.max(1, s / 7), 0, 2 * Math.PI);
    ctx.fill();
  } else if (status === "unknown") {
    ctx.fillStyle = pal.fg;
    ctx.font = `bold ${Math.max(8, Math.round(s))}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText("?", x + s / 2, y + s / 2 + 0.5);
  }
  // absent: blank
  ctx.restore();
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function render({ model, el: root }) {
  const wrap = el("div", "av-wrap");
  root.appendChild(wrap);
  let data = null;
  let layout = null;  // {pitch, rows: [{y, g, r}], height, width}
  let anchor = null, focus = null, dragging = false, moved = false;

  function cellAt(ev, canvas) {
    const box = canvas.getBoundingClientRect();
    const x = ev.clientX - box.left, y = ev.clientY - box.top - HEAD_H;
    if (!layout || x < 0 || y < 0) return null;
    const col = Math.floor(x / layout.pitch);
    const row = layout.rows.findIndex((r) => y >= r.y && y < r.y + ROW_H);
    if (col >= data.first.length || row < 0) return null;
    return { row, col };
  }

  function period(col) {
    const a = data.first[col];
    const b = data.last.length ? data.last[col] : a;
    return a === b ? a : a + " – " + b;
  }

  function describe(row, col) {
    const r = layout.rows[row].item;
    const status = data.statuses[Number(r.codes[col])];
    const lines = [r.label, [r.program, r.platform, r.instrument_type].join(" · ") +
      (r.lat === null ? "" : ` · ${Math.abs(r.lat).toFixed(1)}° ${r.lat >= 0 ? "N" : "S"}`), period(col),
      `status: ${STATUS_TEXT[status] || status}`, `${r.counts[col].toLocaleString()} data products`];
    if (r.by_type) {
      const n = data.types.length;
      const parts = data.types.map((t, k) => [t, r.by_type[col * n + k]]).filter(([, v]) => v > 0);
      if (parts.length) lines.push(parts.map(([t, v]) => `${t}: ${v.toLocaleString()}`).join(", "));
    }
    const h = r.hours[col];
    lines.push(h === null ? "expected dark hours: not computed for this source"
      : `expected dark hours: ${h.toFixed(1)} h (sun below ${data.threshold}°)`);
    if (r.tally) {
      const k = data.statuses.length;
      const days = data.statuses.map((s, i) => [s, r.tally[col * k + i]]).filter(([, v]) => v > 0);
      lines.push("days: " + days.map(([s, v]) => `${v} ${s.replace("_", " ")}`).join(", "));
    }
    return lines;
  }

  function draw() {
    const started = performance.now();
    wrap.textContent = "";
    anchor = focus = null;
    data = model.payload ? JSON.parse(model.payload) : null;
    if (!data || !data.first.length) { layout = null; return; }
    const pal = palette(wrap);
    const ncols = data.first.length;
    const avail = Math.max(200, (root.getBoundingClientRect().width || 900) - LABEL_W - 20);
    const pitch = Math.max(MIN_PITCH, Math.min(MAX_PITCH, Math.floor(avail / ncols)));
    const rows = [];
    let y = 0;
    data.groups.forEach((g, gi) => {
      y += GROUP_H;
      g.rows.forEach((item) => { rows.push({ y, item, group: gi }); y += ROW_H; });
    });
    // at least as wide as one header label: one day's column clipped "Jan 2020" to "Jan 2"
    layout = { pitch, rows, height: y, width: Math.max(ncols * pitch, MIN_HEAD_W) };

    wrap.appendChild(el("div", "av-caption", data.caption));
    wrap.appendChild(el("div", "av-hint", data.hint));
    const legend = el("ul", "av-legend");
    legend.setAttribute("aria-label", "Legend");
    const tally = {};
    rows.forEach((r) => { for (const c of r.item.codes) tally[c] = (tally[c] || 0) + 1; });
    data.statuses.forEach((s, i) => {
      const li = el("li", "av-key");
      li.dataset.status = s;
      const c = document.createElement("canvas");
      const dpr = window.devicePixelRatio || 1;
      c.width = c.height = 14 * dpr;
      c.style.width = c.style.height = "14px";
      const cx = c.getContext("2d");
      cx.scale(dpr, dpr);
      glyph(cx, s, 1, 1, 12, pal);
      li.appendChild(c);
      li.appendChild(el("span", "", `${STATUS_TEXT[s]} (${(tally[String(i)] || 0).toLocaleString()})`));
      legend.appendChild(li);
    });
    wrap.appendChild(legend);
    for (const note of data.notes) wrap.appendChild(el("p", "av-note", note));

    const body = el("div", "av-body");
    const labels = el("div", "av-labels");
    labels.style.height = HEAD_H + layout.height + "px";
    labels.appendChild(el("div", "av-corner", "Source (poleward first)"));
    data.groups.forEach((g) => {
      labels.appendChild(el("div", "av-group", g.title));
      g.rows.forEach((item) => {
        const lab = el("div", "av-label", item.label);
        lab.title = `${item.program} · ${item.platform} · ${item.instrument_type}`;
        labels.appendChild(lab);
      });
    });
    const scroll = el("div", "av-scroll");
    const stage = el("div", "av-stage");
    stage.style.width = layout.width + "px";
    stage.style.height = HEAD_H + layout.height + "px";
    const dpr = window.devicePixelRatio || 1;
    const cells = document.createElement("canvas");
    const over = document.createElement("canvas");
    for (const c of [cells, over]) {
      c.width = Math.ceil(layout.width * dpr);
      c.height = Math.ceil((HEAD_H + layout.height) * dpr);
      c.style.width = layout.width + "px";
      c.style.height = HEAD_H + layout.height + "px";
      stage.appendChild(c);
    }
    cells.className = "av-cells";
    over.className = "av-over";
    over.tabIndex = 0;
    over.setAttribute("role", "application");
    over.setAttribute("aria-label", "Availability grid. Arrow keys move between cells, Enter opens the cell " +
      "(a night, or the days of a week or month), Shift with arrow keys selects cells and Enter searches them.");
    const tip = el("div", "av-tip");
    tip.setAttribute("role", "tooltip");
    tip.hidden = true;
    const live = el("div", "av-sr");
    live.setAttribute("aria-live", "polite");
    scroll.appendChild(stage);
    body.appendChild(labels);
    body.appendChild(scroll);
    wrap.appendChild(body);
    wrap.appendChild(tip);
    wrap.appendChild(live);

    const ctx = cells.getContext("2d");
    ctx.scale(dpr, dpr);
    // header: months (and days when there is room) or years
    ctx.fillStyle = pal.fg;
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "alphabetic";
    let lastTop = "";
    for (let c = 0; c < ncols; c++) {
      const d = data.first[c];
      const x = c * pitch;
      const top = data.period === "month" ? d.slice(0, 4) : MONTHS[Number(d.slice(5, 7)) - 1] + " " + d.slice(0, 4);
      if (top !== lastTop) {
        ctx.fillStyle = pal.fg;
        ctx.fillText(top, x + 2, 13);
        ctx.fillStyle = pal.dim;
        ctx.fillRect(x, 2, 1, HEAD_H - 4);
        lastTop = top;
      }
      ctx.fillStyle = pal.fg;
      if (data.period === "day" && pitch >= 16) ctx.fillText(String(Number(d.slice(8))), x + 2, HEAD_H - 6);
      else if (data.period === "month" && pitch >= 20) ctx.fillText(MONTHS[Number(d.slice(5, 7)) - 1][0], x + 3, HEAD_H - 6);
    }
    const s = Math.max(5, Math.min(pitch, ROW_H) - 4);
    const showCounts = pitch >= 26;
    // Cells by status, then one path (one fill or stroke) per status: a year of 60 sources is
    // 22,000 cells, too many for a save/restore each.
    const at = data.statuses.map(() => []);
    ctx.fillStyle = pal.grid;
    for (const r of rows) {
      ctx.fillRect(0, HEAD_H + r.y + ROW_H - 1, layout.width, 1);
      const oy = HEAD_H + r.y + (ROW_H - s) / 2;
      const codes = r.item.codes;
      for (let c = 0; c < ncols; c++) at[codes.charCodeAt(c) - 48].push(c * pitch + (pitch - s) / 2, oy);
    }
    const code = (name) => data.statuses.indexOf(name);
    const cellsOf = (name) => at[code(name)] || [];
    let xy = cellsOf("present");
    ctx.fillStyle = pal.present;
    for (let i = 0; i < xy.length; i += 2) ctx.fillRect(xy[i], xy[i + 1], s, s);
    xy = cellsOf("partial");
    ctx.strokeStyle = pal.partial;
    ctx.lineWidth = Math.max(1, s / 9);
    ctx.beginPath();
    const step = Math.max(3, s / 3);
    for (let i = 0; i < xy.length; i += 2) {
      const x = xy[i], y = xy[i + 1];
      ctx.rect(x + 0.5, y + 0.5, s - 1, s - 1);
      for (let d = step; d < 2 * s; d += step) {  // the hatch: lines x + y = d inside the square
        ctx.moveTo(x + Math.max(0, d - s), y + Math.min(s, d));
        ctx.lineTo(x + Math.min(s, d), y + Math.max(0, d - s));
      }
    }
    ctx.stroke();
    xy = cellsOf("missing");
    ctx.strokeStyle = pal.missing;
    ctx.lineWidth = Math.max(1.5, s / 6);
    ctx.beginPath();
    const m = Math.max(1, s * 0.15);
    for (let i = 0; i < xy.length; i += 2) {
      const x = xy[i], y = xy[i + 1];
      ctx.moveTo(x + m, y + m); ctx.lineTo(x + s - m, y + s - m);
      ctx.moveTo(x + s - m, y + m); ctx.lineTo(x + m, y + s - m);
    }
    ctx.stroke();
    xy = cellsOf("not_expected");
    ctx.fillStyle = pal.dim;
    ctx.beginPath();
    const rad = Math.max(1, s / 7);
    for (let i = 0; i < xy.length; i += 2) {
      ctx.moveTo(xy[i] + s / 2 + rad, xy[i + 1] + s / 2);
      ctx.arc(xy[i] + s / 2, xy[i + 1] + s / 2, rad, 0, 2 * Math.PI);
    }
    ctx.fill();
    xy = cellsOf("unknown");
    ctx.fillStyle = pal.fg;
    ctx.font = `bold ${Math.max(8, Math.round(s))}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let i = 0; i < xy.length; i += 2) ctx.fillText("?", xy[i] + s / 2, xy[i + 1] + s / 2 + 0.5);
    // absent: blank
    if (showCounts) {
      ctx.font = "10px system-ui, sans-serif";
      ctx.lineWidth = 3;
      ctx.strokeStyle = pal.halo;
      for (const r of rows) {
        const oy = HEAD_H + r.y + (ROW_H - s) / 2;
        for (let c = 0; c < ncols; c++) {
          const n = r.item.counts[c];
          if (n <= 0) continue;
          const ox = c * pitch + (pitch - s) / 2;
          const label = n > 999 ? Math.round(n / 1000) + "k" : String(n);
          if (r.item.codes[c] === String(code("present"))) ctx.fillStyle = pal.presentText;
          else { ctx.strokeText(label, ox + s / 2, oy + s / 2); ctx.fillStyle = pal.fg; }
          ctx.fillText(label, ox + s / 2, oy + s / 2);
        }
      }
    }
    ctx.textAlign = "start";

    const octx = over.getContext("2d");
    octx.scale(dpr, dpr);
    function overlay(hover) {
      octx.clearRect(0, 0, layout.width, HEAD_H + layout.height);
      const box = (a, b, color, width, dash) => {
        const r0 = Math.min(a.row, b.row), r1 = Math.max(a.row, b.row);
        const c0 = Math.min(a.col, b.col), c1 = Math.max(a.col, b.col);
        octx.save();
        octx.strokeStyle = color;
        octx.lineWidth = width;
        octx.setLineDash(dash);
        const y0 = HEAD_H + rows[r0].y, y1 = HEAD_H + rows[r1].y + ROW_H;
        octx.strokeRect(c0 * pitch + 1, y0 + 1, (c1 - c0 + 1) * pitch - 2, y1 - y0 - 2);
        octx.restore();
      };
      if (hover) box(hover, hover, pal.fg, 1, []);
      if (anchor && focus) box(anchor, focus, pal.sel, 2, anchor.row === focus.row && anchor.col === focus.col ? [] : [4, 3]);
    }
    function showTip(cell, ev) {
      if (!cell) { tip.hidden = true; return; }
      tip.textContent = "";
      for (const line of describe(cell.row, cell.col)) tip.appendChild(el("div", "", line));
      tip.hidden = false;
      const host = wrap.getBoundingClientRect();
      const left = Math.min(ev.clientX - host.left + 14, Math.max(0, host.width - 300));
      tip.style.left = left + "px";
      tip.style.top = ev.clientY - host.top + 16 + "px";
    }
    function send(a, b) {
      if (a.row === b.row && a.col === b.col) model.send_msg({ type: "open", token: data.token, row: a.row, col: a.col });
      else model.send_msg({ type: "range", token: data.token, row0: a.row, col0: a.col, row1: b.row, col1: b.col });
    }
    over.addEventListener("pointerdown", (ev) => {
      const cell = cellAt(ev, over);
      if (!cell || ev.button !== 0) return;
      anchor = focus = cell;
      dragging = true;
      moved = false;
      over.setPointerCapture(ev.pointerId);
      overlay(null);
    });
    over.addEventListener("pointermove", (ev) => {
      const cell = cellAt(ev, over);
      if (dragging && cell && (cell.row !== focus.row || cell.col !== focus.col)) { focus = cell; moved = true; }
      overlay(dragging ? null : cell);
      showTip(cell, ev);
    });
    over.addEventListener("pointerleave", () => { if (!dragging) { overlay(null); tip.hidden = true; } });
    over.addEventListener("pointerup", (ev) => {
      if (!dragging) return;
      dragging = false;
      const cell = cellAt(ev, over) || focus;
      focus = cell;
      overlay(null);
      send(anchor, moved ? focus : anchor);
    });
    over.addEventListener("keydown", (ev) => {
      const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
      if (ev.key in moves) {
        ev.preventDefault();
        const cur = focus || { row: 0, col: 0 };
        const [dr, dc] = focus ? moves[ev.key] : [0, 0];
        const next = { row: Math.max(0, Math.min(rows.length - 1, cur.row + dr)),
                       col: Math.max(0, Math.min(ncols - 1, cur.col + dc)) };
        if (!ev.shiftKey || !anchor) anchor = next;
        focus = next;
        overlay(null);
        live.textContent = describe(next.row, next.col).join(". ");
      } else if (ev.key === "Enter" && anchor && focus) {
        ev.preventDefault();
        send(anchor, focus);
      }
    });
    // what tests and benchmarks read: the geometry of the cells, and which grid is drawn
    wrap.dataset.pitch = String(pitch);
    wrap.dataset.columns = String(ncols);
    wrap.dataset.drawMs = String(Math.round(performance.now() - started));
    wrap.dataset.drawn = String(data.token);
  }
  model.on("payload", draw);
  draw();
}
