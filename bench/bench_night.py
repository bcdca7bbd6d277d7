"""Night tab in Chromium: link → 20-site stack visible (cold/warm), cursor → 6 movies seeked, ±1 night, memory.

The dashboard is served as users run it: ``panel serve dashboard`` in a subprocess (127.0.0.1, a free
port), ``AURORAX_CATALOG`` a demo archive of 2022-01-05 .. 2022-01-20 built into ``.bench-data/night/``
(THEMIS ASI: 24 sites, 20+ with a daily keogram on most nights; TREx RGB: 6 sites with movies) and
``AURORAX_CACHE_DIR`` a fresh thumbnail cache folder. Each figure opens the issue's link
``?view=night&night=...&program=themis-asi&t=06:30:00`` in a new tab of one browser (its HTTP cache
warm, as for a returning user; one page load of another night first warms the server's code paths).

Times are taken in the page, from navigation start (``performance.timeOrigin``): a script installed
before the page's own checks every animation frame whether the Night tab shows all rows and every
keogram ``<img>`` has decoded. "Cold": a night whose keograms were never rendered by this server;
"warm": the same night again in a new tab. The page's own milestones (websocket open, rows drawn)
are reported beside them. The cursor figure is timed in the page: from the click on the stack to
the last of the six movies' ``seeked`` events plus the next animation frame. Memory: the server's
RSS growth per open Night session (20+ rows, 6 movies), and the page's JS heap. The machine is
shared (2 cores, other agents' tests running): medians of repeated runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench._harness import CHROMIUM_ARGS, Row, free_port

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / ".bench-data" / "night"
START, END = date(2022, 1, 5), date(2022, 1, 20)

_FIND = """() => {
  const c = window.__nv || (window.__nv = {});
  if (!c.root || !c.root.isConnected) {
    const walk = (r) => { if (r.querySelector('.nv')) return r;
      for (const e of r.querySelectorAll('*')) if (e.shadowRoot) { const f = walk(e.shadowRoot); if (f) return f; }
      return null; };
    c.root = walk(document);
  }
  return c.root;
}"""

# Installed before the page's scripts: records (ms from navigation start) when the websocket opens,
# when the night's rows are drawn and when every keogram has decoded, checking every frame.
_WATCH = """(() => {
  const marks = window.__nvMarks = {};
  for (const level of ['log', 'info', 'debug']) {
    const original = console[level].bind(console);
    console[level] = (...a) => {
      const open = a.some(x => String(x).includes('Websocket connection 0 is now open'));
      if (!marks.ws && open) marks.ws = performance.now();
      original(...a);
    };
  }
  const want = window.__nvWant || {};
  const night = want.night, rows = want.rows;
  const FIND = (FINDSRC);
  const tick = () => {
    const root = FIND();
    if (root) {
      const all = root.querySelectorAll('.nv-row');
      const imgs = [...root.querySelectorAll('.nv-row img.nv-keo')];
      const ours = imgs.length && imgs[0].alt.includes(night);
      if (!marks.rows && all.length === rows && ours) marks.rows = performance.now();
      if (!marks.visible && all.length === rows && ours && !root.querySelector('.nv-loading') &&
          imgs.every(i => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().height > 0)) {
        marks.visible = performance.now();
        return;
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})()""".replace("FINDSRC", _FIND)

_STACK_VISIBLE = """([rows, night]) => {
  const root = (FIND)();
  if (!root) return false;
  const all = root.querySelectorAll('.nv-row');
  if (all.length !== rows) return false;
  const imgs = [...root.querySelectorAll('.nv-row img.nv-keo')];
  if (!imgs.length || !imgs[0].alt.includes(night) || root.querySelector('.nv-loading')) return false;
  return imgs.every(i => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().height > 0);
}""".replace("FIND", _FIND)

_CLICK_TO_SEEKED = """async (fraction) => {
  const root = (FIND)();
  const videos = [...root.querySelectorAll('.nv-movie video')];
  const lane = root.querySelector('.nv-lane').getBoundingClientRect();
  const done = videos.map(v => new Promise(res =>
    v.addEventListener('seeked', () => res(performance.now()), {once: true})));
  const t0 = performance.now();
  root.querySelector('.nv-rows').dispatchEvent(new MouseEvent('click', {bubbles: true,
      clientX: lane.left + lane.width * fraction, clientY: lane.top + lane.height / 2}));
  const times = await Promise.all(done);
  await new Promise(r => requestAnimationFrame(() => r()));
  return {ms: performance.now() - t0, n: videos.length, lastSeeked: Math.max(...times) - t0};
}""".replace("FIND", _FIND)


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _settled_rss_mb(pid: int, timeout: float = 40.0) -> float:
    """RSS once it has stopped moving (3 samples 1 s apart within 1 MB), or after ``timeout``."""
    samples = [_rss_mb(pid)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(1)
        samples.append(_rss_mb(pid))
        if len(samples) >= 3 and max(samples[-3:]) - min(samples[-3:]) < 1:
            break
    return samples[-1]


def _catalog() -> Path:
    from aurorax_core.demo import build_demo_archive

    path = DATA_DIR / "demo-2022-01.sqlite"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        build_demo_archive(path, START, END)
    return path


def _nights_with_20_sites(backend: Any) -> list[tuple[date, int]]:
    from dashboard.night.stack import load_night
    from dashboard.night.state import NightState

    sources = backend.list_sources(programs=["themis-asi"])
    out = []
    day = START + timedelta(days=1)
    while day < END:
        stack = load_night(backend, NightState(night=day, programs=["themis-asi"]), sources)
        if sum(1 for r in stack.rows if r.status == "daily") >= 20:
            out.append((day, len(stack.rows)))
        day += timedelta(days=1)
    return out


def serve_dashboard(catalog: Path, cache: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``panel serve dashboard`` on a free port of 127.0.0.1 (as users run it); (process, base URL)."""
    port = free_port()
    env = {**os.environ, "AURORAX_CATALOG": str(catalog), "AURORAX_CACHE_DIR": str(cache)}
    env.pop("AURORAX_API_URL", None)
    cmd = [sys.executable, "-m", "panel", "serve", "dashboard", "--address", "127.0.0.1", "--port", str(port),
           "--allow-websocket-origin", f"127.0.0.1:{port}",
           # Closed tabs' sessions are let go within ~12 s (default: up to ~32 s), so that the memory
           # row's baseline is not shrinking while it measures (it read negative growth once). The
           # lifetime also bounds how long a new page may take to connect: not shorter.
           "--check-unused-sessions", "2000", "--unused-session-lifetime", "10000"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"panel serve dashboard exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}/dashboard"
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("panel serve dashboard did not accept connections within 60 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def link(base: str, night: date, extra: str = "") -> str:
    return f"{base}?view=night&night={night.isoformat()}&program=themis-asi&t=06:30:00{extra}"


def new_page(context: Any, night: date, rows: int) -> Any:
    """A new tab whose watcher looks for ``rows`` rows of ``night``."""
    page = context.new_page()
    page.add_init_script(f"window.__nvWant = {{night: '{night.isoformat()}', rows: {int(rows)}}};")
    page.add_init_script(_WATCH)
    return page


def run(quick: bool) -> list[Row]:
    from playwright.sync_api import sync_playwright

    from aurorax_core import open_backend

    path = _catalog()
    with open_backend(str(path)) as backend:
        nights = _nights_with_20_sites(backend)
    repeats = 3 if quick else 7
    assert len(nights) >= repeats + 2, f"only {len(nights)} nights with 20+ THEMIS daily keograms"
    cache = DATA_DIR / f"thumbs-{uuid.uuid4().hex[:8]}"  # cold: nothing rendered yet
    proc, base = serve_dashboard(path, cache)
    rows: list[Row] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1440, "height": 1600})
            cold: list[dict[str, float]] = []
            warm: list[dict[str, float]] = []

            def open_link(night: date, n_rows: int) -> dict[str, float]:
                page = new_page(context, night, n_rows)
                page.goto(link(base, night))
                page.wait_for_function(_STACK_VISIBLE, arg=[n_rows, night.isoformat()], timeout=90_000, polling=50)
                page.wait_for_function("() => window.__nvMarks && window.__nvMarks.visible", timeout=10_000)
                marks = page.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return {...window.__nvMarks, html: n.responseEnd, dom: n.domContentLoadedEventEnd}; }"
                )
                page.close()
                return {k: float(v) for k, v in marks.items()}

            # A first page load warms the server's code paths and the browser's cache (not the keograms).
            open_link(*nights[-1])
            for night, n_rows in nights[:repeats]:
                cold.append(open_link(night, n_rows))
                warm.append(open_link(night, n_rows))
            n = nights[0][1]
            for label, runs, target in (("cold thumbnail cache", cold, 1000), ("warm", warm, 300)):
                html = statistics.median(r.get("html", 0) for r in runs)
                ws = statistics.median(r.get("ws", 0) for r in runs)
                drawn = statistics.median(r.get("rows", 0) for r in runs)
                note = f"from navigation start; page HTML {html:.0f} ms, websocket open {ws:.0f} ms, "
                note += f"rows drawn {drawn:.0f} ms; runs {_fmt(runs)}"
                value = statistics.median(r["visible"] for r in runs)
                rows.append(Row(f"link → {n}-row stack visible, {label}", value, "ms", target, note=note))
            rows.extend(_interaction_rows(context, base, nights, quick))
            rows.append(_memory_row(context, base, nights, proc.pid, quick))
            browser.close()
    finally:
        _stop(proc)
        shutil.rmtree(cache, ignore_errors=True)
    return rows


def _interaction_rows(context: Any, base: str, nights: list[tuple[date, int]], quick: bool) -> list[Row]:
    """In one page (TREx RGB, six sites with movies): the cursor, then ±1 night (warm)."""
    night = nights[0][0]
    n_rows = 6  # TREx RGB: the six sites with movies
    page = new_page(context, night, n_rows)
    page.goto(f"{base}?view=night&night={night.isoformat()}&program=trex&instrument=RGB+ASI&t=06:30:00"
              "&sites=ATHA,FSMI,GILL,LUCK,PINA,RABB")  # fmt: skip
    page.wait_for_function(_STACK_VISIBLE, arg=[n_rows, night.isoformat()], timeout=60_000, polling=20)
    page.wait_for_function(
        f"() => {{ const r = ({_FIND})(); const v = [...r.querySelectorAll('.nv-movie video')];"
        " return v.length === 6 && v.every(x => x.readyState >= 2); }",
        timeout=120_000,
    )
    clicks = []
    for i in range(8 if quick else 20):
        result = page.evaluate(_CLICK_TO_SEEKED, 0.15 + 0.03 * (i % 10))
        assert result["n"] == 6, result
        clicks.append(result["ms"])
    out = [Row("cursor click → 6 movies seeked and painted", statistics.median(clicks), "ms", 150,
               note=f"p95 {sorted(clicks)[int(0.95 * (len(clicks) - 1))]:.0f} ms")]  # fmt: skip
    # ±1 night: visit the neighbour once (warming it), then time j / k.
    for key, target in (("j", night + timedelta(days=1)), ("k", night)):
        page.keyboard.press(key)
        page.wait_for_function(_STACK_VISIBLE, arg=[n_rows, target.isoformat()], timeout=60_000)
    steps = []
    for i in range(6 if quick else 12):
        key = "j" if i % 2 == 0 else "k"
        target = night + timedelta(days=1) if key == "j" else night
        t0 = time.perf_counter()
        page.keyboard.press(key)
        page.wait_for_function(_STACK_VISIBLE, arg=[n_rows, target.isoformat()], timeout=60_000, polling=10)
        steps.append(time.perf_counter() - t0)
    out.append(Row(f"±1 night (j/k), warm, {n_rows} rows + 6 movies", statistics.median(steps) * 1000, "ms", 500,
                   note=f"runs {_fmt(steps)}"))  # fmt: skip
    heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize / 1048576 : 0")
    out.append(Row("page JS heap, the dashboard on the Night tab with 6 movies", heap, "MB",
                   note="Chromium usedJSHeapSize"))  # fmt: skip
    page.close()
    return out


def _memory_row(context: Any, base: str, nights: list[tuple[date, int]], pid: int, quick: bool) -> Row:
    """The server's RSS growth per open Night session with a 20+-row stack and 6 movies."""
    base_rss = _settled_rss_mb(pid)
    pages = []
    n_sessions = 3 if quick else 5
    for k in range(n_sessions):
        night, n_rows = nights[k]
        page = new_page(context, night, n_rows)
        page.goto(link(base, night, "&sites=ATHA,FSMI,GILL,INUV,PINA,RANK"))
        page.wait_for_function(_STACK_VISIBLE, arg=[n_rows, night.isoformat()], timeout=60_000)
        pages.append(page)
    per_session = (_settled_rss_mb(pid) - base_rss) / n_sessions
    for page in pages:
        page.close()
    return Row("server memory per session (dashboard, Night tab: 20+ rows, 6 movies)", per_session, "MB", 30,
               note=f"RSS growth of `panel serve dashboard` over {n_sessions} sessions / {n_sessions}")  # fmt: skip


def _fmt(runs: list[dict[str, float]] | list[float]) -> str:
    values = [r["visible"] if isinstance(r, dict) else r * 1000 for r in runs]
    return ", ".join(f"{v:.0f}" for v in values) + " ms"
