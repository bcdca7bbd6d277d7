"""The basket: data products collected across searches, to take away as a bundle or download.

A :class:`Basket` is an immutable value keyed by product URL (adding a URL twice keeps one).
``add``/``remove``/``clear`` return a new basket that remembers the one before, so ``undo()`` steps
back (up to ``MAX_UNDO`` steps). ``groups()`` summarises it per dataset (counts, date range, total
size when every size is known). It serialises to a compact JSON for a browser's localStorage
(``to_json``/``from_json``) and, when small, to a URL-safe permalink token (``to_permalink``).
Text read back from storage or a link is untrusted: it is parsed strictly and bounded in size.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from .bundle import product_size
from .citations import dataset_for, unknown_key
from .errors import AuroraXCoreError
from .models import DataProduct, DataSource, format_time
from .query import DataProductQuery

__all__ = ["MAX_UNDO", "PERMALINK_LIMIT", "Basket", "BasketError", "BasketGroup"]

MAX_UNDO: Final = 50
PERMALINK_LIMIT: Final = 2000  # characters of the token; browsers and servers accept URLs well above this
MAX_STORED_CHARS: Final = 50_000_000
MAX_PRODUCTS: Final = 200_000
_FORMAT_VERSION: Final = 1


class BasketError(AuroraXCoreError, ValueError):
    """A stored basket or permalink cannot be read, or a basket is too large for a permalink."""


@dataclass(frozen=True, slots=True)
class BasketGroup:
    """The basket's products of one dataset (or one unknown program/instrument/type family)."""

    key: str  # dataset name, or "program / instrument_type / data_product_type"
    known: bool
    count: int
    total_bytes: int | None  # None when some product's size is unknown
    first_start: datetime
    last_end: datetime
    synthetic: int


class Basket:
    """Products keyed by URL, in the order they were added; immutable (see the module doc)."""

    __slots__ = ("_depth", "_items", "_previous", "_queries")

    def __init__(self, products: Iterable[DataProduct] = (), *, queries: Iterable[DataProductQuery] = ()) -> None:
        items: dict[str, DataProduct] = {}
        for product in products:
            _check(product)
            items.setdefault(product.url, product)
        self._items = items
        self._queries: tuple[DataProductQuery, ...] = tuple(dict.fromkeys(queries))
        self._previous: Basket | None = None
        self._depth = 0

    @classmethod
    def _derived(
        cls, items: dict[str, DataProduct], previous: Basket, queries: tuple[DataProductQuery, ...] | None = None
    ) -> Basket:
        basket = cls.__new__(cls)
        basket._items = items
        basket._queries = previous._queries if queries is None else queries
        basket._previous = previous
        basket._depth = min(previous._depth + 1, MAX_UNDO)
        if basket._depth == MAX_UNDO:
            _trim(basket)
        return basket

    # -- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        url = item.url if isinstance(item, DataProduct) else item
        return url in self._items

    def __iter__(self) -> Iterator[DataProduct]:
        return iter(self._items.values())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Basket) and list(self._items) == list(other._items)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Basket({len(self)} products)"

    @property
    def products(self) -> list[DataProduct]:
        return list(self._items.values())

    @property
    def urls(self) -> list[str]:
        return list(self._items)

    @property
    def queries(self) -> tuple[DataProductQuery, ...]:
        """The searches that products were added from (for the bundle's query files), oldest first."""
        return self._queries

    @property
    def can_undo(self) -> bool:
        return self._previous is not None

    @property
    def total_bytes(self) -> int | None:
        """The sum of the sizes, or None when any product's size is unknown."""
        total = 0
        for product in self._items.values():
            size = product_size(product)
            if size is None:
                return None
            total += size
        return total

    def groups(self) -> list[BasketGroup]:
        """Per dataset, known datasets first (by name), then unknown families (by key)."""
        acc: dict[tuple[bool, str], list[Any]] = {}
        memo: dict[tuple[str, str, str, str | None, str], str | None] = {}
        for product in self._items.values():
            src = product.data_source
            ext = product.url.rsplit(".", 1)[-1][:8].lower()
            memo_key = (src.program, src.instrument_type, product.data_product_type, product.sub_type, ext)
            if memo_key not in memo:
                dataset = dataset_for(product)
                memo[memo_key] = dataset.name if dataset else None
            name = memo[memo_key]
            key = (name is not None, name if name is not None else unknown_key(product))
            entry = acc.get(key)
            size = product_size(product)
            if entry is None:
                acc[key] = [1, size, product.start, product.end, int(product.is_synthetic)]
                continue
            entry[0] += 1
            entry[1] = None if entry[1] is None or size is None else entry[1] + size
            entry[2] = min(entry[2], product.start)
            entry[3] = max(entry[3], product.end)
            entry[4] += product.is_synthetic
        ordered = sorted(acc.items(), key=lambda kv: (not kv[0][0], kv[0][1]))
        return [BasketGroup(name, known, *values) for (known, name), values in ordered]

    # -- changing (each returns a new basket) -----------------------------------------------------

    def add(self, products: Iterable[DataProduct], *, query: DataProductQuery | None = None) -> Basket:
        """A basket with these products added (URLs already in it are kept as they are); ``query``
        is the search they came from."""
        items = dict(self._items)
        for product in products:
            _check(product)
            items.setdefault(product.url, product)
        if len(items) == len(self._items):
            return self
        queries = self._queries
        if query is not None and query not in queries:
            queries = (*queries, query)
        return Basket._derived(items, self, queries)

    def remove(self, urls: Iterable[str | DataProduct]) -> Basket:
        """A basket without these URLs (unknown URLs are ignored)."""
        drop = {u.url if isinstance(u, DataProduct) else u for u in urls}
        if not drop & self._items.keys():
            return self
        return Basket._derived({u: p for u, p in self._items.items() if u not in drop}, self)

    def clear(self) -> Basket:
        return self if not self._items else Basket._derived({}, self, ())

    def undo(self) -> Basket:
        """The basket before the last change (this basket itself when there is nothing to undo)."""
        return self._previous if self._previous is not None else self

    # -- storage ------------------------------------------------------------------------------

    def to_json(self) -> str:
        """Compact JSON: sources listed once, products as short arrays (for localStorage)."""
        sources: dict[tuple[Any, ...], int] = {}
        rows = []
        for product in self._items.values():
            src = product.data_source
            skey = (src.identifier, src.program, src.platform, src.instrument_type, src.source_type, src.display_name)
            index = sources.setdefault(skey, len(sources))
            row: list[Any] = [
                index,
                product.data_product_type,
                format_time(product.start),
                format_time(product.end),
                product.url,
            ]
            if product.metadata:
                row.append(product.metadata)
            rows.append(row)
        document: dict[str, Any] = {"v": _FORMAT_VERSION, "s": [list(k) for k in sources], "p": rows}
        if self._queries:
            document["q"] = [q.to_api_payload() for q in self._queries]
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Basket:
        """Read :meth:`to_json` output back.

        Raises:
            BasketError: not a stored basket (the message says what is wrong).
        """
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise BasketError("the stored basket is not UTF-8 text") from None
        if not isinstance(text, str) or len(text) > MAX_STORED_CHARS:
            raise BasketError("the stored basket is not text or is too large")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BasketError(f"the stored basket is not JSON ({exc.msg})") from None
        if not isinstance(document, dict) or document.get("v") != _FORMAT_VERSION:
            raise BasketError(f"the stored basket is not a version-{_FORMAT_VERSION} aurorax-core basket")
        raw_sources, rows = document.get("s"), document.get("p")
        if not isinstance(raw_sources, list) or not isinstance(rows, list) or len(rows) > MAX_PRODUCTS:
            raise BasketError("the stored basket has no valid source and product lists")
        sources = []
        for index, raw in enumerate(raw_sources):
            if not isinstance(raw, list) or len(raw) != 6:
                raise BasketError(f"stored basket: data source {index} is malformed")
            identifier, program, platform, instrument_type, source_type, display_name = raw
            try:
                sources.append(
                    DataSource.from_api_dict(
                        {
                            "identifier": identifier,
                            "program": program,
                            "platform": platform,
                            "instrument_type": instrument_type,
                            "source_type": source_type,
                            "display_name": display_name,
                        }
                    )
                )
            except AuroraXCoreError as exc:
                raise BasketError(f"stored basket: data source {index}: {exc}") from None
        products = []
        for index, row in enumerate(rows):
            if not isinstance(row, list) or len(row) not in (5, 6) or not isinstance(row[0], int):
                raise BasketError(f"stored basket: product {index} is malformed")
            if not 0 <= row[0] < len(sources):
                raise BasketError(f"stored basket: product {index} names an unknown data source")
            record = {"data_product_type": row[1], "start": row[2], "end": row[3], "url": row[4]}
            if len(row) == 6:
                record["metadata"] = row[5]
            try:
                products.append(DataProduct.from_api_dict(record, data_source=sources[row[0]]))
            except AuroraXCoreError as exc:
                raise BasketError(f"stored basket: product {index}: {exc}") from None
        raw_queries = document.get("q", [])
        if not isinstance(raw_queries, list):
            raise BasketError("the stored basket's query list is malformed")
        queries = []
        for index, raw in enumerate(raw_queries):
            try:
                queries.append(DataProductQuery.from_api_payload(raw))
            except AuroraXCoreError as exc:
                raise BasketError(f"stored basket: query {index}: {exc}") from None
        return cls(products, queries=queries)

    def to_permalink(self, limit: int = PERMALINK_LIMIT) -> str:
        """A URL-safe token carrying the basket, for a link.

        Raises:
            BasketError: the token would be longer than ``limit`` (share a bundle instead).
        """
        token = base64.urlsafe_b64encode(zlib.compress(self.to_json().encode("utf-8"), 9)).decode("ascii")
        token = token.rstrip("=")
        if len(token) > limit:
            raise BasketError(
                f"the basket ({len(self)} products) is too large for a link ({len(token)} > {limit} characters); "
                "share a bundle instead"
            )
        return token

    @classmethod
    def from_permalink(cls, token: str, limit: int = PERMALINK_LIMIT) -> Basket:
        """Read a :meth:`to_permalink` token.

        Raises:
            BasketError: too long, not base64, not compressed, or not a basket.
        """
        if not isinstance(token, str) or len(token) > limit:
            raise BasketError(f"the basket link is missing or longer than {limit} characters")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            decompressor = zlib.decompressobj()
            text = decompressor.decompress(raw, 2_000_000)  # bounded: a tiny token cannot inflate to gigabytes
        except (binascii.Error, ValueError, zlib.error):
            raise BasketError("the basket link is damaged (not a basket token)") from None
        if decompressor.unconsumed_tail:
            raise BasketError("the basket link expands to too much data")
        return cls.from_json(text)


def _check(product: object) -> None:
    if not isinstance(product, DataProduct):
        raise BasketError(f"a basket holds DataProduct records, not {type(product).__name__}")


def _trim(basket: Basket) -> None:
    """Forget undo steps beyond MAX_UNDO (walks the chain once every time the cap is reached)."""
    node: Basket | None = basket
    for _ in range(MAX_UNDO):
        if node is None:
            return
        node = node._previous
    if node is not None:
        node._previous = None
        node._depth = 0
