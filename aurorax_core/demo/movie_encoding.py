"""Encoding a demo movie's frames: WebM/VP8 through imageio-ffmpeg's bundled ffmpeg, deterministic."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from PIL import Image

from .render_context import RenderError

MOVIE_FRAMES = 48
MOVIE_FPS = 12


def _ffmpeg_exe() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        return shutil.which("ffmpeg")
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return shutil.which("ffmpeg")


def _encode_webm(exe: str, frames: list[Image.Image]) -> bytes:
    raw = b"".join(f.convert("RGB").tobytes() for f in frames)
    w, h = frames[0].size
    with tempfile.TemporaryDirectory(prefix="aurorax-movie-") as tmp:
        path = os.path.join(tmp, "movie.webm")
        cmd = [
            exe,
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{w}x{h}",
            "-r",
            str(MOVIE_FPS),
            "-i",
            "pipe:0",
            "-c:v",
            "libvpx",
            "-pix_fmt",
            "yuv420p",
            "-b:v",
            "700k",
            "-crf",
            "10",
            "-deadline",
            "good",
            "-cpu-used",
            "5",
            "-threads",
            "1",
            "-auto-alt-ref",
            "0",
            "-fflags",
            "+bitexact",
            "-flags:v",
            "+bitexact",
            "-map_metadata",
            "-1",
            "-an",
            "-f",
            "webm",
            path,
        ]
        try:
            proc = subprocess.run(cmd, input=raw, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RenderError(f"the movie encoder ({exe}) could not run: {exc}") from None
        if proc.returncode != 0 or not os.path.exists(path):
            msg = proc.stderr.decode("utf-8", "replace").strip()[-400:]
            raise RenderError(f"the movie encoder failed (exit {proc.returncode}): {msg}")
        with open(path, "rb") as fh:
            return fh.read()
