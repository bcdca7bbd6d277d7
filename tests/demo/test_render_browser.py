"""A rendered demo movie plays in Chromium (Debian's, as users and CI have it) and the poster shows."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from aurorax_core.demo.render import render_movie, render_preview
from aurorax_core.models import DataProduct, DataSource

pytestmark = pytest.mark.ui


def test_demo_movie_plays_in_chromium(page: Any) -> None:
    src = DataSource(103, "trex", "gillam", "RGB ASI", "ground", "TREx RGB GILL")
    product = DataProduct(
        src,
        "movie",
        datetime(2020, 1, 5, tzinfo=UTC),
        datetime(2020, 1, 5, 23, 59, tzinfo=UTC),
        "https://example.test/movie.mp4",
        {
            "demo_synthetic": True,
            "movie_type": "real-time daily",
            "imaging_start_time": "2020-01-05T00:30:00.000000",
            "imaging_end_time": "2020-01-05T13:40:00.000000",
        },
    )
    movie = render_movie(product)
    poster = render_preview(product)
    video = base64.b64encode(movie.data).decode()
    image = base64.b64encode(poster.data).decode()
    page.set_content(
        f'<video id="v" muted playsinline src="data:{movie.content_type};base64,{video}"></video>'
        f'<img id="p" src="data:{poster.content_type};base64,{image}">'
    )
    page.wait_for_function("document.getElementById('v').readyState >= 2", timeout=20_000)
    state = page.evaluate(
        """async () => {
            const v = document.getElementById('v');
            await v.play();
            await new Promise((resolve) => setTimeout(resolve, 1200));
            const p = document.getElementById('p');
            return {w: v.videoWidth, h: v.videoHeight, duration: v.duration, t: v.currentTime,
                    error: v.error ? v.error.code : null, posterW: p.naturalWidth};
        }"""
    )
    assert state["error"] is None
    assert (state["w"], state["h"]) == (movie.width, movie.height)
    assert state["duration"] == pytest.approx(movie.frame_count / movie.fps, abs=0.2)
    assert state["t"] > 0.3  # it actually advanced: the browser decodes and plays it
    assert state["posterW"] == poster.width
