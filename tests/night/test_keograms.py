"""The stack's images arrive in steps: thumbnails first where a full image is slow, then the full images;
and the Night tab follows its own link parameters even when they come after the tab is shown."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from aurorax_core import DataProduct
from dashboard.images import Media
from dashboard.night import keograms
from dashboard.night.keograms import StackImages
from dashboard.night.stack import load_night
from dashboard.night.state import NightState
from dashboard.permalink import apply_view_permalink
from dashboard.state import DashboardSession
from dashboard.views.night import NightTab
from dashboard.views.registry import view_names

from .conftest import NIGHT


class SlowFullImages:
    """Thumbnails at once; full images only once ``release`` is set (a first render taking long)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def thumbnail(self, product: DataProduct) -> Media:
        return Media("data:image/jpeg;base64,VEhVTUI=", "image/jpeg")

    def preview(self, product: DataProduct) -> Media:
        assert self.release.wait(30), "the test never released the full images"
        return Media("data:image/jpeg;base64,RlVMTA==", "image/jpeg")

    def movie(self, product: DataProduct) -> Media:
        return Media(None, reason="no movies here")


def test_rows_go_with_thumbnails_and_the_full_images_follow(night_backend: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(keograms, "FULL_SEEN", keograms._Seen())  # a process that made no full image yet
    stack = load_night(night_backend, NightState(night=NIGHT, programs=["themis-asi"]),
                       night_backend.list_sources(programs=["themis-asi"]))  # fmt: skip
    service = SlowFullImages()
    images = StackImages(stack, service)
    first = images.first(timeout=5)
    shown = [im for row in first for im in row["images"]]
    assert len(first) == len(stack.rows) and len(shown) == sum(len(r.keograms) for r in stack.rows)
    assert all(im["src"] == "data:image/jpeg;base64,VEhVTUI=" and not im["loading"] for im in shown)
    service.release.set()
    last = list(images.updates())[-1]
    assert all(im["src"] == "data:image/jpeg;base64,RlVMTA==" for row in last for im in row["images"])
    assert images.complete
    # Now that this process has made them, the same night asks for the full images directly.
    again = StackImages(stack, service).first(timeout=5)
    assert all(im["src"] == "data:image/jpeg;base64,RlVMTA==" for row in again for im in row["images"])


def test_an_image_not_ready_in_time_is_a_loading_placeholder_with_its_alt_text(
    night_backend: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(keograms, "FULL_SEEN", keograms._Seen())
    stack = load_night(night_backend, NightState(night=NIGHT, programs=["themis-asi"]),
                       night_backend.list_sources(programs=["themis-asi"]))  # fmt: skip
    gate = threading.Event()

    class Stuck(SlowFullImages):
        def thumbnail(self, product: DataProduct) -> Media:
            gate.wait(30)
            return super().thumbnail(product)

    service = Stuck()
    images = StackImages(stack, service)
    first = images.first(timeout=0.05)
    waiting = [im for row in first for im in row["images"] if im["loading"]]
    assert waiting and all(im["src"] == "" and "night of 2020-01-14" in im["alt"] for im in waiting)
    gate.set()
    service.release.set()
    last = list(images.updates())[-1]
    assert not any(im["loading"] for row in last for im in row["images"])


def test_the_tabs_link_applied_after_the_tab_is_shown_loads_that_night(night_backend: Any) -> None:
    """The dashboard applies ``view=night`` before the tab's own ``night``/``t``: the night still follows."""
    session = DashboardSession(night_backend, view_names=view_names())
    session.form.apply_permalink({"program": "themis-asi"})
    tab = NightTab(session=session)
    session.view = "night"
    assert tab.view is not None and tab.view.stack is not None
    assert apply_view_permalink([tab], {"night": "2020-01-14", "t": "06:30:00"}) == []
    assert tab.view.stack.night == date(2020, 1, 14)
    assert tab.state.t == 6 * 3600 + 30 * 60 and tab.view.cursor_label() == "06:30:00 UT"
    assert any(row.keograms for row in tab.view.stack.rows)
