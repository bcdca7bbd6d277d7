"""Building data products for the take-away tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aurorax_core.models import DataProduct, DataSource

TREX_GILL = DataSource(103, "trex", "gillam", "RGB ASI", display_name="TREx RGB GILL")


def product(
    url: str,
    *,
    source: DataSource = TREX_GILL,
    start: datetime = datetime(2020, 1, 1, 6, tzinfo=UTC),
    kind: str = "keogram",
    sub_type: str | None = "hourly",
    synthetic: bool = False,
    size: int | None = None,
) -> DataProduct:
    metadata: dict[str, object] = {}
    if sub_type is not None:
        metadata[f"{kind}_type"] = sub_type
    if synthetic:
        metadata["demo_synthetic"] = True
    if size is not None:
        metadata["file_size"] = size
    return DataProduct(source, kind, start, start + timedelta(minutes=59), url, metadata)


def files_under(root: Path) -> set[str]:
    """Every file below ``root`` as a relative POSIX path."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def payload(n: int, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(n))
