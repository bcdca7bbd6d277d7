"""One night of one instrument across the network: which keogram goes in which row, and the movies.

Plain Python over any ``aurorax_core.Backend`` (no Panel): one search for the window's keograms and
movies, one source listing (cached by the caller) for the "no data" rows. Images are not touched
here; :mod:`dashboard.night.view` fetches them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from aurorax_core import (
    AuroraXCoreError,
    Backend,
    DataProduct,
    DataSource,
    SiteLocation,
    build_query,
    parse_time,
    site_code,
    site_location,
)

from .geometry import TimeWindow, latitude_order, local_window, median_longitude, ut_window
from .state import NightState

# The keogram standard's product first; other daily variants only when a site has no plain daily.
DAILY_PREFERENCE = ("daily", "daily_moviederived", "daily_hires", "daily_hires_200px")
HOURLY_TYPES = ("hourly",)
SEARCH_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Placed:
    """A keogram at its place on the window: ``left``/``width`` are fractions of the window."""

    product: DataProduct
    left: float
    width: float
    hourly: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    source: DataSource
    code: str
    location: SiteLocation | None
    keograms: tuple[Placed, ...] = ()

    @property
    def status(self) -> str:
        """'daily', 'hourly' (stand-ins only) or 'none'."""
        if not self.keograms:
            return "none"
        return "hourly" if all(p.hourly for p in self.keograms) else "daily"

    @property
    def name(self) -> str:
        return self.location.name if self.location else self.source.platform


@dataclass(frozen=True, slots=True)
class NightStack:
    night: date
    window: TimeWindow
    instrument: str
    instruments: tuple[str, ...]
    rows: tuple[Row, ...]
    movies: dict[str, DataProduct] = field(default_factory=dict)

    @property
    def has_data(self) -> bool:
        return any(row.keograms for row in self.rows)

    def row(self, code: str) -> Row | None:
        return next((r for r in self.rows if r.code == code.upper()), None)


def imaging_span(product: DataProduct) -> tuple[datetime, datetime]:
    """The product's imaging start/end from its metadata (AuroraX keys), else its record span."""
    start, end = product.start, product.end
    meta = product.metadata or {}
    try:
        if meta.get("imaging_start_time"):
            start = parse_time(str(meta["imaging_start_time"]))
        if meta.get("imaging_end_time"):
            end = parse_time(str(meta["imaging_end_time"]))
    except AuroraXCoreError:
        return product.start, product.end
    return (start, end) if end > start else (product.start, product.end)


def _ground(sources: Iterable[DataSource]) -> list[DataSource]:
    return [s for s in sources if s.source_type == "ground"]


def instruments_of(sources: Sequence[DataSource]) -> tuple[str, ...]:
    """Instrument types of the selection, the most common first (THEMIS's 24 ASIs before anything else)."""
    counts = Counter(s.instrument_type for s in _ground(sources))
    return tuple(sorted(counts, key=lambda k: (-counts[k], k.lower())))


def choose_window(state: NightState, sources: Sequence[DataSource]) -> TimeWindow:
    if state.window == "local":
        lons = [loc.longitude for s in sources if (loc := site_location(s)) is not None]
        return local_window(state.night, round(median_longitude(lons), 1))
    return ut_window(state.night)


def _keograms_for(products: list[DataProduct], window: TimeWindow) -> tuple[Placed, ...]:
    """Per UT day in the window: the preferred daily keogram, else that day's hourly keograms."""
    placed: list[Placed] = []
    for day in window.ut_days:
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        todays = [p for p in products if p.start.date() == day]
        daily = {p.sub_type: p for p in todays if (p.sub_type or "").startswith("daily")}
        chosen = next((daily[k] for k in DAILY_PREFERENCE if k in daily), None)
        if chosen is None and daily:
            chosen = daily[sorted(daily, key=str)[0]]
        if chosen is not None:
            # The standard: a daily keogram's 720 columns are the UT day, whatever its record says.
            left, width = window.place(day_start, day_start + timedelta(days=1))
            placed.append(Placed(chosen, left, width))
            continue
        for p in sorted((p for p in todays if p.sub_type in HOURLY_TYPES), key=lambda p: p.start):
            hour = p.start.replace(minute=0, second=0, microsecond=0)
            left, width = window.place(hour, hour + timedelta(hours=1))
            placed.append(Placed(p, left, width, hourly=True))
    return tuple(p for p in placed if p.left < 1.0 and p.left + p.width > 0.0)


def load_night(backend: Backend, state: NightState, sources: Sequence[DataSource]) -> NightStack:
    """The stack for ``state`` from ``sources`` (the selection's data sources, from ``list_sources``).

    Raises:
        AuroraXCoreError: the search failed (the view shows why).
    """
    ground = _ground(sources)
    instruments = instruments_of(ground)
    instrument = state.instrument if state.instrument in instruments else (instruments[0] if instruments else "")
    row_sources = [s for s in ground if s.instrument_type == instrument]
    window = choose_window(state, row_sources)
    by_key: dict[tuple[str, str, str], list[DataProduct]] = {s.key: [] for s in row_sources}
    movies: dict[str, DataProduct] = {}
    if row_sources:
        days = window.ut_days
        query = build_query(
            datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC),
            datetime(days[-1].year, days[-1].month, days[-1].day, 23, 59, 59, tzinfo=UTC),
            programs=sorted({s.program for s in row_sources}),
            platforms=sorted({s.platform for s in row_sources}) if state.platforms else None,
            instrument_types=[instrument],
            data_product_types=["keogram", "movie"],
        )
        for product in backend.search(query, timeout=SEARCH_TIMEOUT).data:
            if product.data_product_type == "keogram" and product.data_source.key in by_key:
                by_key[product.data_source.key].append(product)
            elif product.data_product_type == "movie" and product.data_source.key in by_key:
                _add_movie(movies, product, window)
        missing = sorted({s.platform for s in row_sources if site_code(s) not in movies})
        if missing:
            _other_movies(backend, movies, missing, window)
    rows = [Row(s, site_code(s), site_location(s), _keograms_for(by_key[s.key], window)) for s in row_sources]
    rows = latitude_order(rows, lambda r: r.location, magnetic=state.order == "magnetic")
    return NightStack(state.night, window, instrument, instruments, tuple(rows), movies)


def _add_movie(movies: dict[str, DataProduct], product: DataProduct, window: TimeWindow) -> None:
    """Keep, per site, the movie covering most of the window (a local night may touch two)."""
    start, end = imaging_span(product)
    overlap = (min(end, window.end) - max(start, window.start)).total_seconds()
    if overlap <= 0:
        return
    code = site_code(product.data_source)
    current = movies.get(code)
    if current is not None:
        c0, c1 = imaging_span(current)
        if (min(c1, window.end) - max(c0, window.start)).total_seconds() >= overlap:
            return
    movies[code] = product


def _other_movies(backend: Backend, movies: dict[str, DataProduct], platforms: list[str], window: TimeWindow) -> None:
    """A site without a movie of the row set's instrument gets another instrument's movie of that site
    (THEMIS has no movie records, TREx RGB at the same site does); its title names the instrument."""
    days = window.ut_days
    query = build_query(
        datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC),
        datetime(days[-1].year, days[-1].month, days[-1].day, 23, 59, 59, tzinfo=UTC),
        platforms=platforms,
        data_product_types=["movie"],
    )
    found: dict[str, DataProduct] = {}
    for product in backend.search(query, timeout=SEARCH_TIMEOUT).data:
        if product.data_source.source_type == "ground":
            _add_movie(found, product, window)
    for code, product in found.items():
        movies.setdefault(code, product)


def nights_with_data(
    backend: Backend, sources: Sequence[DataSource], instrument: str, around: date, days: int = 20
) -> list[date]:
    """UT dates within ``days`` of ``around`` that have a daily keogram of ``instrument`` (sorted).

    Raises:
        AuroraXCoreError: the search failed.
    """
    row_sources = [s for s in _ground(sources) if s.instrument_type == instrument]
    if not row_sources:
        return []
    query = build_query(
        datetime(around.year, around.month, around.day, tzinfo=UTC) - timedelta(days=days),
        datetime(around.year, around.month, around.day, 23, 59, 59, tzinfo=UTC) + timedelta(days=days),
        programs=sorted({s.program for s in row_sources}),
        instrument_types=[instrument],
        data_product_types=["keogram"],
        metadata_filters=[{"key": "keogram_type", "operator": "=", "values": ["daily"]}],
    )
    keys = {s.key for s in row_sources}
    found = {p.start.date() for p in backend.search(query, timeout=SEARCH_TIMEOUT).data if p.data_source.key in keys}
    return sorted(found)


def nearest(dates: Sequence[date], around: date) -> tuple[date | None, date | None]:
    """The closest date before and after ``around`` in ``dates``."""
    before = max((d for d in dates if d < around), default=None)
    after = min((d for d in dates if d > around), default=None)
    return before, after
