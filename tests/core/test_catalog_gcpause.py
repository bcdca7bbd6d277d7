"""The garbage-collector pause (aurorax_core._gcpause, still importable as
aurorax_core.backends.catalog._gc_paused) with real threads: one search ending never switches the
collector back on under another, and the last one restores it exactly as it was."""

from __future__ import annotations

import gc
import random
import threading
from collections.abc import Iterator

import pytest

from aurorax_core._gcpause import gc_paused, paused_depth
from aurorax_core.backends.catalog import _gc_paused


@pytest.fixture(params=[True, False], ids=["gc-on", "gc-off"])
def initial(request: pytest.FixtureRequest) -> Iterator[bool]:
    was = gc.isenabled()
    if request.param:
        gc.enable()
    else:
        gc.disable()
    yield request.param
    if was:
        gc.enable()
    else:
        gc.disable()


def test_the_old_import_name_is_the_same_pause() -> None:
    assert _gc_paused is gc_paused


def test_one_thread_ending_does_not_resume_the_collector_under_another(initial: bool) -> None:
    first_in, second_in, first_out, second_checked = (threading.Event() for _ in range(4))
    seen: dict[str, bool] = {}

    def first() -> None:
        with gc_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with gc_paused():
            second_in.set()
            first_out.wait(5)
            seen["inside after the first ended"] = gc.isenabled()
            seen["depth"] = paused_depth()
        second_checked.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert second_checked.is_set()
    assert seen == {"inside after the first ended": False, "depth": 1}
    assert gc.isenabled() is initial
    assert paused_depth() == 0


def test_many_threads_pausing_at_random_restore_the_collector_exactly(initial: bool) -> None:
    errors: list[str] = []
    start = threading.Barrier(8)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        start.wait(5)
        for _ in range(300):
            with gc_paused():
                if gc.isenabled():
                    errors.append("collector on inside a pause")
                if rng.random() < 0.3:
                    with gc_paused():  # nested, as a search inside an ingest callback would be
                        if gc.isenabled():
                            errors.append("collector on inside a nested pause")
                [object() for _ in range(rng.randrange(50))]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert paused_depth() == 0
    assert gc.isenabled() is initial


def test_a_pause_ended_by_an_exception_still_restores(initial: bool) -> None:
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled() is initial
