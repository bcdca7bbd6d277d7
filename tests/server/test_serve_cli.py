"""``aurorax-core serve`` as a user runs it: a real process on 127.0.0.1, stopped with Ctrl+C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "aurorax_core", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def test_serve_prints_the_urls_serves_and_stops_on_ctrl_c(small_catalog_path: Path) -> None:
    proc = _start("--catalog", str(small_catalog_path), "serve", "--port", "0", env={"AURORAX_SERVER_API_KEYS": "a,b"})
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        url = re.search(r"at (http://127\.0\.0\.1:\d+)$", lines[0].strip())
        assert url, lines
        base = url.group(1)
        text = "".join(lines)
        assert f'PyAuroraX(api_base_url="{base}")' in text
        assert f"--api-base-url={base}" in text
        assert f"--api-url {base}" in text
        assert "2 API key(s)" in text
        assert requests.get(base + "/", timeout=10).status_code == 200
        reply = requests.post(
            f"{base}/api/v1/data_sources/400/data_products", json=[], headers={"x-aurorax-api-key": "b"}
        )
        assert reply.status_code == 202
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_serve_with_a_missing_catalog_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aurorax_core", "--catalog", str(tmp_path / "nope.sqlite"), "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: catalog")
    assert "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_on_a_busy_port_is_a_one_line_error(small_catalog_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "aurorax_core", "--catalog", str(small_catalog_path), "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "cannot listen on 127.0.0.1" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_rejects_bad_options(small_catalog_path: Path) -> None:
    for args, message in (
        (["--port", "70000"], "--port"),
        (["--workers", "0"], "--workers"),
        (["--result-ttl", "0"], "--result-ttl"),
        (["--submit-wait", "-1"], "--submit-wait"),
        (["--search-processes", "-1"], "--search-processes"),
        (["--result-memory", "0"], "--result-memory"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "aurorax_core", "--catalog", str(small_catalog_path), "serve", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1
        assert message in done.stderr


_SERVE = (sys.executable, "-m", "aurorax_core", "--catalog")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _serve_with_search_processes(catalog: Path) -> subprocess.Popen[str]:
    """``serve`` with 2 search processes, in a session of its own (as a terminal starts it)."""
    return subprocess.Popen(
        [*_SERVE, str(catalog), "serve", "--port", "0", "--search-processes", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )


def test_ctrl_c_in_a_terminal_stops_the_server_and_its_search_processes_quietly(small_catalog_path: Path) -> None:
    # A terminal sends Ctrl+C to the whole process group: the worker processes get it too.
    proc = _serve_with_search_processes(small_catalog_path)
    try:
        assert proc.stdout is not None
        url = re.search(r"at (http://127\.0\.0\.1:\d+)$", proc.stdout.readline().strip())
        assert url, "the server did not start"
        reply = requests.post(
            url.group(1) + "/api/v1/data_products/search",
            json={"start": "2020-01-01T00:00:00", "end": "2020-01-01T23:59:59", "data_sources": {}},
            timeout=30,
        )
        assert reply.status_code == 202
        assert len(_children(proc.pid)) >= 2  # the search processes (and multiprocessing's tracker)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_search_processes_end_when_the_server_is_killed(small_catalog_path: Path) -> None:
    """kill -9 of ``aurorax-core serve``: its search processes end too (they lived on for good, each
    with the catalog open, because a worker never sees the pool's queues close)."""
    proc = _serve_with_search_processes(small_catalog_path)
    children: list[int] = []
    try:
        assert proc.stdout is not None
        assert re.search(r"at (http://127\.0\.0\.1:\d+)$", proc.stdout.readline().strip()), "the server did not start"
        children = _children(proc.pid)
        assert len(children) >= 2
    finally:
        proc.kill()
        proc.wait(timeout=30)  # not communicate(): workers left behind would hold its pipes open
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    for _ in range(150):
        if not any(_running(pid) for pid in children):
            break
        time.sleep(0.1)
    left = [pid for pid in children if _running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []
