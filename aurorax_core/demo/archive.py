"""The demo archive: realistic AuroraX data-product records for the real ground imagers, generated.

What is real and what is generated:

* **Real** (``assets/``, with provenance): the data sources (identifiers, program / platform /
  instrument_type / source_type / display_name), site coordinates, device ids, the URL layouts of
  data.phys.ucalgary.ca, the metadata vocabulary (``keogram_type`` ..., ``imaging_start_time``).
* **Computed**: when each site is dark enough to image (sun below -12°, :mod:`aurorax_core.sky`) on each
  date, hence which hourly products exist and the imaging start/end times.
* **Generated**: which nights are lost to weather or downtime (:mod:`.weather`, deterministic),
  and every record's existence. Every record carries ``metadata["demo_synthetic"] = True``.

Per site and night a network makes the products listed in ``assets/url_patterns.json``:
hourly products for each UT hour with imaging in it, daily products (record span
``00:00:00``-``23:59:00``) for the night whose solar midnight falls on that UT date. With the
real TREx RGB scheme this gives ~33 records per site-night in winter (the real catalogue: 164 for
5 sites on 2020-02-01) and 16 hourly+daily keograms at Gillam on 2020-01-01 (real: 16).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from ..errors import CatalogError, QueryValidationError
from ..models import SYNTHETIC_METADATA_KEY, DataSource
from ..sky import dark_minutes
from .sources import ProductSpec, Site, demo_sites, demo_sources
from .weather import night_lost

DEFAULT_START: Final = date(2019, 12, 1)
DEFAULT_END: Final = date(2020, 2, 29)
# ``full=True`` ends here rather than "today", so that a full build is reproducible too.
FULL_END: Final = date(2025, 12, 31)
# Bump when the generated records change, so that a catalog built by another version is
# recognisable (it is part of the catalog's stored generation token).
GENERATOR_VERSION: Final = "1"
_CHUNK_DAYS: Final = 30


@dataclass(frozen=True, slots=True)
class DemoBuildProgress:
    """A progress report from :func:`build_demo_archive`.

    ``stage`` is ``"sources"``, ``"records"``, ``"finalising"`` or ``"done"``; ``done``/``total``
    count days of the range; ``records`` is the number of records written so far.
    """

    stage: str
    done: int
    total: int
    records: int
    message: str

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


DemoProgressCallback = Callable[[DemoBuildProgress], None]


# --------------------------------------------------------------------------------------------
# record generation
# --------------------------------------------------------------------------------------------


def _basic_info(source: DataSource) -> dict[str, Any]:
    return source.to_api_dict("basic_info")


_EPOCH: Final = date(1970, 1, 1)
_WINDOW_DAYS: Final = 64


class _SiteState:
    """Per-site state while walking the dates: dark intervals (whole minutes since the epoch,
    computed for a window of days at once) and whether each night was recorded."""

    __slots__ = ("basic", "daily", "dark", "hourly", "nights", "site", "window_start")

    def __init__(self, site: Site) -> None:
        self.site = site
        self.basic = _basic_info(site.source)
        self.hourly: list[ProductSpec] = [p for p in site.products if p.cadence == "hourly"]
        self.daily: list[ProductSpec] = [p for p in site.products if p.cadence == "daily"]
        self.nights: dict[date, tuple[int, int] | None] = {}
        self.window_start: date | None = None
        self.dark: list[tuple[float, float]] = []

    def _dark(self, day: date) -> tuple[float, float]:
        offset = -1 if self.window_start is None else (day - self.window_start).days
        if not 0 <= offset < len(self.dark):
            self.window_start = day - timedelta(days=1)
            site = self.site
            starts, ends = dark_minutes(self.window_start, _WINDOW_DAYS, site.latitude, site.longitude)
            self.dark = list(zip(starts.tolist(), ends.tolist(), strict=True))
            offset = 1
        return self.dark[offset]

    def night(self, day: date) -> tuple[int, int] | None:
        """The recorded imaging interval of the night assigned to ``day``, in whole minutes since
        the epoch (first and last minute with an image), or None."""
        try:
            return self.nights[day]
        except KeyError:
            pass
        site = self.site
        result: tuple[int, int] | None = None
        if site.operating(day):
            ident = site.source.identifier
            if night_lost(site.source.platform, ident, day) is None:
                start, end = self._dark(day)
                if start == start:  # not NaN: it gets dark
                    # Images are taken on whole minutes inside the dark interval.
                    first, last = math.ceil(start), math.floor(end)
                    if end - start >= 1440.0:  # polar night: consecutive nights abut at solar noon
                        last -= 1
                    if last >= first:
                        result = (first, last)
        if len(self.nights) > 8:
            for old in sorted(self.nights)[:-4]:
                del self.nights[old]
        self.nights[day] = result
        return result


_IMAGING_CACHE: dict[int, str] = {}


def _imaging(minute: int) -> str:
    """``YYYY-MM-DDTHH:MM:00.000000`` for a minute since the epoch (cached: times repeat a lot)."""
    text = _IMAGING_CACHE.get(minute)
    if text is None:
        if len(_IMAGING_CACHE) > 200_000:
            _IMAGING_CACHE.clear()
        day = _EPOCH + timedelta(days=minute // 1440)
        hour, mins = divmod(minute % 1440, 60)
        text = f"{day.year:04d}-{day.month:02d}-{day.day:02d}T{hour:02d}:{mins:02d}:00.000000"
        _IMAGING_CACHE[minute] = text
    return text


def _select_sites(sources: Iterable[int | DataSource | str] | None) -> list[Site]:
    sites = list(demo_sites())
    if sources is None:
        return sites
    wanted_ids: set[int] = set()
    wanted_programs: set[str] = set()
    for item in sources:
        if isinstance(item, DataSource):
            if item.identifier is not None:
                wanted_ids.add(item.identifier)
        elif isinstance(item, bool):
            raise QueryValidationError(f"sources: expected identifiers, DataSource or program names, got {item!r}")
        elif isinstance(item, int):
            wanted_ids.add(item)
        elif isinstance(item, str):
            wanted_programs.add(item)
        else:
            raise QueryValidationError(f"sources: expected identifiers, DataSource or program names, got {item!r}")
    return [s for s in sites if s.source.identifier in wanted_ids or s.source.program in wanted_programs]


def _check_range(start: date, end: date) -> tuple[date, date]:
    if isinstance(start, datetime):
        start = start.date()
    if isinstance(end, datetime):
        end = end.date()
    if not isinstance(start, date) or not isinstance(end, date):
        raise QueryValidationError(f"start and end must be dates like 2020-01-01, got {start!r} and {end!r}")
    if end < start:
        raise QueryValidationError(f"end {end} is before start {start}; give the range as --start EARLY --end LATE")
    return start, end


def generate_demo_records(
    start: date, end: date, sources: Iterable[int | DataSource | str] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the demo archive's AuroraX data-product records for UT dates ``start``..``end`` (inclusive).

    Records are AuroraX JSON dicts (``data_source`` in basic_info form, ``data_product_type``,
    ``start``, ``end``, ``url``, ``metadata``), date by date, then network and source in a fixed
    order: the same arguments always yield the same records in the same order. The
    ``data_source`` dict is shared between the records of one source: do not mutate it.

    Args:
        start, end: the first and last UT date.
        sources: restrict to these data sources (identifiers, DataSource objects or program
            names such as ``"trex"``); None means every imager.

    Raises:
        QueryValidationError: the range is reversed or not made of dates, or ``sources`` holds
            something other than identifiers, sources or program names.
    """
    start, end = _check_range(start, end)
    states = [_SiteState(site) for site in _select_sites(sources)]
    day = start
    one_day = timedelta(days=1)
    while day <= end:
        yield from _records_for_day(day, states, one_day)
        day += one_day


def _records_for_day(day: date, states: list[_SiteState], one_day: timedelta) -> Iterator[dict[str, Any]]:
    day_minute = (day - _EPOCH).days * 1440
    ymd = f"{day.year:04d}{day.month:02d}{day.day:02d}"
    date_text = f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
    daily_start, daily_end = f"{date_text}T00:00:00", f"{date_text}T23:59:00"
    fields = {"yyyy": f"{day.year:04d}", "mm": f"{day.month:02d}", "dd": f"{day.day:02d}", "ymd": ymd}
    hours = [
        (
            day_minute + 60 * h,
            day_minute + 60 * h + 59,
            f"{h:02d}",
            f"{date_text}T{h:02d}:00:00",
            f"{date_text}T{h:02d}:59:00",
        )
        for h in range(24)
    ]
    marker = SYNTHETIC_METADATA_KEY
    previous_day, next_day = day - one_day, day + one_day
    for state in states:
        site = state.site
        if not site.operating(day):
            continue
        # The night of the previous day can run past 00:00, the next one start before 23:59.
        nights = [n for n in (state.night(previous_day), state.night(day), state.night(next_day)) if n]
        if not nights:
            continue
        fields["site"] = site.site_uid
        fields["dev"] = site.device_on(day)
        basic = state.basic
        if state.hourly:
            templates = [
                (p.data_product_type, p.metadata_key, p.sub_type, p.url_template.format(hh="{hh}", **fields))
                for p in state.hourly
            ]
            for h0, h1, hh, rec_start, rec_end in hours:
                first = last = -1
                for n_start, n_end in nights:
                    s0 = n_start if n_start > h0 else h0
                    e0 = n_end if n_end < h1 else h1
                    if s0 <= e0:
                        if first < 0 or s0 < first:
                            first = s0
                        if e0 > last:
                            last = e0
                if first < 0:
                    continue
                t_first, t_last = _imaging(first), _imaging(last)
                for kind, key, sub_type, template in templates:
                    yield {
                        "data_source": basic,
                        "data_product_type": kind,
                        "start": rec_start,
                        "end": rec_end,
                        "url": template.replace("{hh}", hh),
                        "metadata": {
                            marker: True,
                            "imaging_end_time": t_last,
                            "imaging_start_time": t_first,
                            key: sub_type,
                        },
                    }
        tonight = state.night(day)
        if tonight is None or not state.daily:
            continue
        t_first, t_last = _imaging(tonight[0]), _imaging(tonight[1])
        for spec in state.daily:
            yield {
                "data_source": basic,
                "data_product_type": spec.data_product_type,
                "start": daily_start,
                "end": daily_end,
                "url": spec.url_template.format(hh="", **fields),
                "metadata": {
                    marker: True,
                    "imaging_end_time": t_last,
                    "imaging_start_time": t_first,
                    spec.metadata_key: spec.sub_type,
                },
            }


def full_range() -> tuple[date, date]:
    """The dates a ``full=True`` build covers: the first operating day of any imager to :data:`FULL_END`."""
    first = min(site.operating_from for site in demo_sites())
    return first, FULL_END


# --------------------------------------------------------------------------------------------
# building a catalog file
# --------------------------------------------------------------------------------------------


def _emit(progress: DemoProgressCallback | None, stage: str, done: int, total: int, records: int, message: str) -> None:
    if progress is not None:
        progress(DemoBuildProgress(stage=stage, done=done, total=total, records=records, message=message))


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def build_demo_archive(
    catalog_path: str | os.PathLike[str],
    start: date | None = DEFAULT_START,
    end: date | None = DEFAULT_END,
    *,
    full: bool = False,
    progress: DemoProgressCallback | None = None,
) -> dict[str, Any]:
    """Build the demo archive as a new catalog file at ``catalog_path`` (replacing any file there).

    The catalog holds every data source of ``assets/data_sources.json`` (all real sources, imagers
    and spacecraft) and the generated records of every imager operating between ``start`` and
    ``end`` (UT dates, inclusive). The file is built next to its destination under a temporary
    name and moved into place atomically, so readers never see a half-built catalog, and it is
    byte-for-byte reproducible: the same range always gives the same file.

    Args:
        catalog_path: the catalog file to write (its directory is created if needed).
        start, end: the UT date range (default, also for None: 2019-12-01 .. 2020-02-29, which
            holds the days the AuroraX documentation's examples search).
        full: ignore ``start``/``end`` and cover every imager over its whole operating life
            (2004-08-25 .. 2025-12-31: millions of records, for benchmarks).
        progress: called with a :class:`DemoBuildProgress` as the build advances.

    Returns:
        A summary: ``path``, ``start``, ``end``, ``full``, ``records``, ``sources``, ``sites``,
        ``days``, ``seconds`` (total), ``generate_seconds`` (making the records),
        ``ingest_seconds`` (the catalog's ingest), ``records_per_second`` (ingest rate),
        ``ingest_cpu_seconds`` (CPU time of this process during ingest), ``bytes`` (file size).

    Raises:
        QueryValidationError: the range is reversed or not made of dates.
        CatalogError: the file cannot be written (e.g. a read-only directory).
    """
    from ..backends.catalog import CatalogBackend

    started = time.perf_counter()
    if full:
        start, end = full_range()
    start, end = _check_range(DEFAULT_START if start is None else start, DEFAULT_END if end is None else end)
    target = Path(catalog_path).expanduser()
    if target.is_dir():
        raise CatalogError(
            f"catalog path {str(target)!r} is a directory; give a file path such as {target / 'catalog.sqlite'}"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatalogError(f"cannot create the directory {str(target.parent)!r} ({exc.strerror or exc})") from None
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    building = target.parent / f".{target.name}.{token}.building"
    finished = target.parent / f".{target.name}.{token}.done"
    total_days = (end - start).days + 1
    sources = demo_sources()
    records = 0
    ingest_seconds = generate_seconds = ingest_cpu_seconds = 0.0
    try:
        _emit(progress, "sources", 0, total_days, 0, f"adding {len(sources)} data sources")
        backend = CatalogBackend(building)
        try:
            backend.ingest_sources(sources)
            chunk_start = start
            while chunk_start <= end:
                chunk_end = min(end, chunk_start + timedelta(days=_CHUNK_DAYS - 1))
                t0 = time.perf_counter()
                # Materialised per chunk so that generation and catalog ingest are timed apart.
                batch = list(generate_demo_records(chunk_start, chunk_end))
                t1, cpu1 = time.perf_counter(), time.process_time()
                summary = backend.ingest_products(batch)
                generate_seconds += t1 - t0
                ingest_seconds += time.perf_counter() - t1
                # CPU time too: on a shared machine wall-clock rates mostly measure the neighbours.
                ingest_cpu_seconds += time.process_time() - cpu1
                del batch
                records += summary.records
                done = (chunk_end - start).days + 1
                _emit(progress, "records", done, total_days, records, f"{chunk_end}: {records:,} records")
                chunk_start = chunk_end + timedelta(days=1)
        finally:
            backend.close()
        _emit(progress, "finalising", total_days, total_days, records, "compacting the catalog")
        _finalise(building, finished, start, end)
        _publish(finished, target, replace=True)
    except BaseException:
        _remove_sqlite(building)
        _remove_sqlite(finished)
        raise
    _remove_sqlite(building)
    seconds = time.perf_counter() - started
    summary_dict = {
        "path": str(target),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "full": full,
        "records": records,
        "sources": len(sources),
        "sites": len(demo_sites()),
        "days": total_days,
        "seconds": round(seconds, 3),
        "generate_seconds": round(generate_seconds, 3),
        "ingest_seconds": round(ingest_seconds, 3),
        "records_per_second": round(records / ingest_seconds, 1) if ingest_seconds > 0 else 0.0,
        "ingest_cpu_seconds": round(ingest_cpu_seconds, 3),
        "bytes": target.stat().st_size,
    }
    _emit(progress, "done", total_days, total_days, records, f"{records:,} records in {seconds:.1f} s")
    return summary_dict


def _finalise(building: Path, finished: Path, start: date, end: date) -> None:
    """Make the file reproducible: a generation token derived from the inputs, then VACUUM INTO.

    The catalog stores a random generation token and fills small tables from Python sets (whose
    order varies between processes); VACUUM INTO rewrites every table in key order, so equal
    content gives equal bytes.
    """
    digest = hashlib.sha256(json.dumps([GENERATOR_VERSION, start.isoformat(), end.isoformat()]).encode()).hexdigest()[
        :32
    ]
    try:
        conn = sqlite3.connect(str(building), isolation_level=None)
        try:
            conn.execute("UPDATE catalog_meta SET value = ? WHERE key = 'generation'", (f"demo{digest}",))
            conn.execute("VACUUM INTO ?", (str(finished),))
        finally:
            conn.close()
        conn = sqlite3.connect(str(finished), isolation_level=None)
        try:
            # Readers and one writer at a time, as the catalog itself sets up new files.
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise CatalogError(f"cannot finish the demo catalog in {building.parent} ({exc})") from None


def _publish(finished: Path, target: Path, *, replace: bool) -> bool:
    """Move the finished file into place; with ``replace=False`` never overwrite an existing one.

    Returns True when this file became the catalog.
    """
    if replace:
        try:
            os.replace(finished, target)
        except OSError as exc:
            raise CatalogError(f"cannot write the catalog {target} ({exc.strerror or exc})") from None
        for suffix in ("-wal", "-shm", "-journal"):
            # Leftovers of a previous catalog at this path would not match the new file.
            with suppress(FileNotFoundError):
                os.unlink(f"{target}{suffix}")
        return True
    try:
        os.link(finished, target)  # fails if another process published first: keep theirs
    except FileExistsError:
        return False
    except OSError:
        if target.exists():
            return False
        os.replace(finished, target)
        return True
    with suppress(FileNotFoundError):
        os.unlink(finished)
    return True


def ensure_demo_catalog(path: str | os.PathLike[str], progress: DemoProgressCallback | None = None) -> Path:
    """Build the default demo archive at ``path`` unless a file is already there; returns the path.

    Safe when several processes start at once: they take turns on a lock file beside the catalog
    and the file appears atomically; a process that finds it there does nothing.

    Raises:
        CatalogError: the catalog cannot be written.
    """
    target = Path(path).expanduser()
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatalogError(
            f"cannot create the directory {str(target.parent)!r} for the demo catalog ({exc.strerror or exc}); "
            "pass another --catalog path (or set AURORAX_CATALOG)"
        ) from None
    lock_path = target.parent / f".{target.name}.lock"
    with _file_lock(lock_path):
        if target.exists():
            return target
        token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging = target.parent / f".{target.name}.{token}.new"
        try:
            build_demo_archive(staging, progress=progress)
            _publish(staging, target, replace=False)
        finally:
            _remove_sqlite(staging)
        # Safe to remove now: anyone still waiting on this lock re-checks and finds the catalog.
        with suppress(OSError):
            os.unlink(lock_path)
    return target


class _file_lock:  # noqa: N801 - used like a function: ``with _file_lock(path):``
    """An exclusive advisory lock on ``path`` (POSIX flock); a no-op where flock does not exist."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None

    def __enter__(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: the atomic publish alone keeps the catalog consistent
            return
        try:
            self.handle = open(self.path, "a+b")
        except OSError as exc:
            raise CatalogError(
                f"cannot create the lock file {self.path} ({exc.strerror or exc}); pass another --catalog path"
            ) from None
        fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            import fcntl

            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
