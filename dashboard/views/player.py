"""A movie player: play/pause, speed 0.25×–4×, frame step, seek; keys space, ←/→ (also on the page while shown).

Plays either a video (``src``, a data: URI) or a list of frames (``frames``, image data: URIs), which
is what the demo archive's synthetic movies are. All text is set with ``textContent``; sources are
only accepted when they are data: URIs of the expected kind.
"""

from __future__ import annotations

import param
from panel.custom import JSComponent

SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)

_ESM = r"""
const SPEEDS = [0.25, 0.5, 1, 1.5, 2, 4];
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}
const okImage = (s) => typeof s === "string" && /^data:image\/(png|jpeg|gif|webp);base64,/.test(s);
const okVideo = (s) => typeof s === "string" && /^data:video\/(mp4|webm);base64,/.test(s);

export function render({ model, el: root }) {
  const wrap = el("div", {
    class: "ax-player", role: "group", "aria-label": model.label || "Movie player", tabindex: "0",
  });
  const stage = el("div", { class: "ax-player-stage" });
  const bar = el("div", { class: "ax-player-bar" });
  const play = el("button", { type: "button", class: "ax-play", "aria-label": "Play" }, "▶ Play");
  const back = el("button", { type: "button", "aria-label": "Previous frame" }, "◀ frame");
  const fwd = el("button", { type: "button", "aria-label": "Next frame" }, "frame ▶");
  const speedLabel = el("label", {}, "Speed ");
  const speed = el("select", { "aria-label": "Playback speed", class: "ax-speed" });
  for (const s of SPEEDS) {
    const o = el("option", { value: String(s) }, s + "×");
    if (s === 1) o.selected = true;
    speed.appendChild(o);
  }
  speedLabel.appendChild(speed);
  const seek = el("input", { type: "range", min: "0", max: "0", value: "0", step: "1", "aria-label": "Position" });
  const pos = el("span", { class: "ax-pos", "aria-live": "off" }, "");
  bar.append(play, back, fwd, speedLabel, seek, pos);
  wrap.append(stage, bar);
  root.appendChild(wrap);

  let video = null, img = null, timer = null, frame = 0, playing = false;
  const frames = () => (model.frames || []).filter(okImage);
  const fps = () => (model.fps > 0 ? model.fps : 10);
  const rate = () => parseFloat(speed.value) || 1;

  function show() {
    if (video) {
      const d = video.duration || 0;
      seek.max = String(Math.max(0, Math.round(d * fps())));
      seek.value = String(Math.round(video.currentTime * fps()));
      pos.textContent = video.currentTime.toFixed(2) + " s / " + d.toFixed(2) + " s";
    } else {
      const n = frames().length;
      seek.max = String(Math.max(0, n - 1));
      seek.value = String(frame);
      if (img && n) img.src = frames()[frame];
      pos.textContent = "frame " + (n ? frame + 1 : 0) + " / " + n;
    }
    play.textContent = playing ? "❚❚ Pause" : "▶ Play";
    play.setAttribute("aria-label", playing ? "Pause" : "Play");
    wrap.dataset.playing = playing ? "true" : "false";
    model.playing = playing;
    model.position = video ? video.currentTime : frame;
  }
  function tick() {
    const n = frames().length;
    if (!n) return;
    frame = (frame + 1) % n;
    show();
  }
  function schedule() {
    if (timer) clearInterval(timer);
    timer = null;
    if (playing && !video) timer = setInterval(tick, 1000 / (fps() * rate()));
  }
  function setPlaying(p) {
    playing = p;
    if (video) {
      if (p) { const r = video.play(); if (r && r.catch) r.catch(() => { playing = false; show(); }); }
      else video.pause();
    }
    schedule();
    show();
  }
  function step(k) {
    setPlaying(false);
    if (video) {
      video.currentTime = Math.max(0, Math.min(video.duration || 0, video.currentTime + k / fps()));
    } else {
      const n = frames().length;
      if (n) frame = (frame + k + n) % n;
    }
    show();
  }
  function load() {
    setPlaying(false);
    stage.textContent = "";
    video = null; img = null; frame = 0;
    if (okVideo(model.src)) {
      video = el("video", { preload: "auto", playsinline: "", "aria-label": model.label || "Movie" });
      video.muted = true;
      video.loop = true;
      video.src = model.src;
      video.addEventListener("timeupdate", show);
      video.addEventListener("loadedmetadata", show);
      video.playbackRate = rate();
      stage.appendChild(video);
    } else if (frames().length) {
      img = el("img", { alt: model.label || "Movie frame" });
      stage.appendChild(img);
    } else {
      stage.appendChild(el("p", { class: "ax-dim" }, "No movie to play."));
    }
    show();
  }
  play.addEventListener("click", () => setPlaying(!playing));
  back.addEventListener("click", () => step(-1));
  fwd.addEventListener("click", () => step(1));
  speed.addEventListener("change", () => { if (video) video.playbackRate = rate(); schedule(); model.speed = rate(); });
  seek.addEventListener("input", () => {
    const v = parseInt(seek.value, 10) || 0;
    if (video) video.currentTime = v / fps(); else frame = v;
    show();
  });
  wrap.addEventListener("keydown", (e) => {
    if (e.target !== wrap) return;
    if (e.key === " ") { e.preventDefault(); setPlaying(!playing); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); step(-1); }
    else if (e.key === "ArrowRight") { e.preventDefault(); step(1); }
  });
  // The page's keys (preview open): ←/→ step frames and space plays anywhere but in a field, a
  // button (space presses it) or the player itself (handled above).
  function onPageKey(e) {
    const t = e.composedPath ? e.composedPath()[0] : e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || t === wrap || !wrap.getClientRects().length) return;
    if (t && (["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName) || t.isContentEditable)) return;
    if (e.key === " " && !(t && t.tagName === "BUTTON")) { e.preventDefault(); setPlaying(!playing); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); step(-1); }
    else if (e.key === "ArrowRight") { e.preventDefault(); step(1); }
  }
  window.addEventListener("keydown", onPageKey);
  model.on(["src", "frames", "label"], load);
  model.on("remove", () => { if (timer) clearInterval(timer); window.removeEventListener("keydown", onPageKey); });
  load();
}
"""


class MoviePlayer(JSComponent):
    """Plays a video data: URI or a list of image frames; reports ``playing`` and ``position`` back."""

    src = param.String(default="", doc="A data:video/... URI.")
    frames = param.List(default=[], doc="Image data: URIs, one per frame.")
    fps = param.Number(default=10, bounds=(0.1, 120))
    label = param.String(default="Movie")
    playing = param.Boolean(default=False, doc="Set by the browser.")
    position = param.Number(default=0, doc="Seconds (video) or frame index (frames); set by the browser.")
    speed = param.Number(default=1.0, doc="Set by the browser.")

    _esm = _ESM

    _stylesheets = [  # noqa: RUF012  (Panel reads this class attribute)
        """
        .ax-player { outline: none; }
        .ax-player:focus-visible { outline: 3px solid #0072b2; outline-offset: 2px; }
        .ax-player-stage img, .ax-player-stage video { width: 100%; max-height: 80vh; object-fit: contain;
                                                       display: block; background: #2b2b2b; }
        .ax-player-bar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-top: 6px; }
        .ax-player-bar button, .ax-player-bar select { font: inherit; padding: 4px 8px; }
        .ax-player-bar input[type=range] { flex: 1 1 120px; }
        .ax-dim { opacity: 0.75; }
        """
    ]
