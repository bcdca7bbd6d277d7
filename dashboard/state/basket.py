"""The session's basket: products collected across searches, kept per browser, taken away as a bundle.

``BasketState`` wraps the core's immutable :class:`aurorax_core.Basket` (keyed by URL, grouped by
dataset, undo) and says what each change did in ``message``. It survives new searches (a search
never touches it) and reloads: the page's storage bridge writes :meth:`stored_json` (the core's compact
JSON) into the browser's localStorage and hands it back with :meth:`restore` on the next visit.
A small basket also travels in links (:meth:`link_token`, the core's size-limited form).

``KeepOffline`` copies the current search's sources and range from an AuroraX API into a local
catalog (``aurorax_core.sync_query``), when both exist. No Panel here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import param

from aurorax_core import (
    AuroraXCoreError,
    Basket,
    BasketError,
    BasketGroup,
    CatalogBackend,
    DataProduct,
    DataProductQuery,
    RemoteBackend,
    natural_size,
    sync_query,
    write_bundle,
)

# A link token grows by roughly 15-40 characters per product; beyond this many products it cannot
# fit the core's 2,000-character limit, so it is not even computed (compressing 5,000 products on
# every change would cost the page more than it is worth).
LINK_MAX_PRODUCTS: Final = 400
ENV_CATALOG: Final = "AURORAX_CATALOG"


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def human_bytes(size: int | None) -> str:
    """'12.3 MB' (decimal units, as pyaurorax and download tools print them); 'unknown' for None."""
    return "unknown" if size is None else natural_size(size)


class BasketState(param.Parameterized):
    """The basket of one browser session (see the module doc)."""

    basket = param.ClassSelector(class_=Basket, instantiate=False, doc="The current basket (an immutable value).")
    message = param.String(default="", doc="What the last change did (plain text, for a status line).")
    restored = param.Boolean(default=False, doc="The browser's stored basket has been read back (or there was none).")

    def __init__(self, **params: Any) -> None:
        params.setdefault("basket", Basket())
        super().__init__(**params)
        self._link_cache: tuple[Basket, str] | None = None
        self._groups_cache: tuple[Basket, list[BasketGroup]] | None = None

    # --- reading ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.basket)

    def __contains__(self, item: object) -> bool:
        return item in self.basket

    @property
    def products(self) -> list[DataProduct]:
        return self.basket.products

    def groups(self) -> list[BasketGroup]:
        """Per dataset (computed once per basket value: the summary, the view and the bundle share it)."""
        basket = self.basket
        if self._groups_cache is None or self._groups_cache[0] is not basket:
            self._groups_cache = (basket, basket.groups())
        return self._groups_cache[1]

    @property
    def total_bytes(self) -> int | None:
        """The basket's size, or None when some product's size is unknown."""
        sizes = [group.total_bytes for group in self.groups()]
        return None if any(size is None for size in sizes) else sum(s for s in sizes if s is not None)

    def summary(self) -> str:
        """'3 products in 2 datasets · 1.2 MB' (or 'size unknown')."""
        basket = self.basket
        if not len(basket):
            return "The basket is empty."
        groups = self.groups()
        total = self.total_bytes
        size = f"{human_bytes(total)}" if total is not None else "total size unknown"
        return f"{plural(len(basket), 'product')} in {plural(len(groups), 'dataset')} · {size}"

    # --- changing ---------------------------------------------------------------------------------

    def add(self, products: Iterable[DataProduct], query: DataProductQuery | None = None) -> int:
        """Add products (from the search ``query``); the number that were not in the basket yet."""
        products = list(products)
        before = len(self.basket)
        self._set(self.basket.add(products, query=query))
        added = len(self.basket) - before
        already = len(products) - added
        if not products:
            self.message = "Nothing to add."
        elif added == 0:
            self.message = f"Already in the basket: {plural(len(products), 'product')}."
        else:
            self.message = f"Added {plural(added, 'product')} to the basket" + (
                f" ({already:,} already in it)." if already else "."
            )
        return added

    def remove(self, urls: Iterable[str | DataProduct]) -> int:
        """Remove products by URL; the number removed."""
        before = len(self.basket)
        self._set(self.basket.remove(urls))
        removed = before - len(self.basket)
        self.message = f"Removed {plural(removed, 'product')}." if removed else "Nothing was removed."
        return removed

    def clear(self) -> None:
        count = len(self.basket)
        self._set(self.basket.clear())
        self.message = f"Cleared the basket ({plural(count, 'product')}); Undo brings them back." if count else ""

    def undo(self) -> bool:
        """Step back one change; False when there is nothing to undo."""
        if not self.basket.can_undo:
            self.message = "Nothing to undo."
            return False
        self._set(self.basket.undo())
        self.message = f"Undone: the basket holds {plural(len(self.basket), 'product')}."
        return True

    def _set(self, basket: Basket) -> None:
        if basket is self.basket:
            return
        self.basket = basket

    # --- the browser's storage and links ----------------------------------------------------------

    @property
    def stored(self) -> str:
        """The current basket as kept in localStorage ('' when empty: the stored copy is removed)."""
        return self.stored_json(self.basket)

    def stored_json(self, basket: Basket) -> str:
        """``basket`` as kept in localStorage (the core's compact JSON; '' when empty). It costs
        ~40 ms per 5,000 products: the view calls it off the event loop."""
        return basket.to_json() if len(basket) else ""

    def restore(self, text: str | None) -> bool:
        """Merge the basket the browser kept (:meth:`stored_json` of an earlier visit) into this one.

        The merge is not an undo step: what was kept is simply there again. A damaged or foreign
        value is reported in ``message`` and ignored (and overwritten by the next change).
        """
        self.restored = True
        if not text:
            return False
        try:
            kept = Basket.from_json(text)
        except BasketError as exc:
            self.message = f"The basket kept in this browser could not be read and was left out ({exc})."
            return False
        self._merge(kept)
        return True

    def apply_link_token(self, token: str) -> bool:
        """Merge a basket carried by a link (:meth:`link_token` of someone else's page)."""
        if not token or token == self.link_token():
            return False
        try:
            linked = Basket.from_permalink(token)
        except BasketError as exc:
            self.message = f"The link's basket could not be used: {exc}."
            return False
        before = len(self.basket)
        self._merge(linked)
        self.message = f"The link added {plural(len(self.basket) - before, 'product')} to the basket."
        return True

    def _merge(self, other: Basket) -> None:
        # Happens as the page opens (the browser's basket, a link's basket): no undo step of its own.
        current = self.basket
        merged = Basket([*current.products, *other.products], queries=[*current.queries, *other.queries])
        if merged != current or merged.queries != current.queries:
            self.basket = merged

    def link_token(self) -> str:
        """The basket as a link token, or '' when it is empty or too large for a link."""
        basket = self.basket
        if not len(basket) or len(basket) > LINK_MAX_PRODUCTS:
            return ""
        if self._link_cache is not None and self._link_cache[0] is basket:
            return self._link_cache[1]
        try:
            token = basket.to_permalink()
        except BasketError:
            token = ""
        self._link_cache = (basket, token)
        return token

    def link_note(self) -> str:
        """Whether links carry the basket, in a sentence."""
        if not len(self.basket):
            return ""
        if self.link_token():
            return "The page's link carries this basket: share it and the receiver gets these products."
        return (
            "This basket is too large for a link; it is kept in this browser. To share it, send the bundle "
            "(its manifest lists every product)."
        )

    # --- the bundle -------------------------------------------------------------------------------

    def bundle_bytes(self, basket: Basket | None = None) -> bytes:
        """The take-away bundle (zip) of ``basket`` (default: the current one). Blocking: call it
        off the event loop.

        Raises:
            BundleError: the basket is empty or the bundle cannot be written.
        """
        basket = self.basket if basket is None else basket
        with tempfile.TemporaryDirectory(prefix="aurorax-basket-") as folder:
            path = write_bundle(basket.products, Path(folder) / "bundle.zip", queries=basket.queries)
            return path.read_bytes()


class KeepOffline(param.Parameterized):
    """'Keep these results offline': sync the current search's sources and range into a local catalog."""

    catalog_path = param.String(
        default="", doc="The local catalog that keeps results offline ('' = AURORAX_CATALOG, if set)."
    )
    running = param.Boolean(default=False)
    progress = param.String(default="", doc="Progress of the running sync (plain text).")
    message = param.String(default="", doc="What the last sync did, or why it could not run (plain text).")
    failed = param.Boolean(default=False, doc="The last sync failed (the message says why).")

    def __init__(self, **params: Any) -> None:
        params.setdefault("catalog_path", os.environ.get(ENV_CATALOG, "").strip())
        super().__init__(**params)

    def unavailable_reason(self, backend: Any, query: DataProductQuery | None) -> str:
        """'' when the current search can be kept offline, else why not (a sentence for the button)."""
        if not isinstance(backend, RemoteBackend):
            return (
                "The results already come from a local catalog: they are offline. Choose an AuroraX API "
                "as the backend to copy its records here."
            )
        if not self.catalog_path:
            return (
                f"No local catalog is configured: set {ENV_CATALOG} to the catalog file that should keep "
                "results offline, then reload."
            )
        if query is None:
            return "Search first: the search's data sources and time range are what is kept offline."
        return ""

    def sync(
        self,
        remote: Any,
        query: DataProductQuery,
        progress: Callable[[str], None] | None = None,
    ) -> str:
        """Copy the query's sources and months into the catalog (blocking: call it off the event
        loop); the report's summary.

        Raises:
            AuroraXCoreError: the API or the catalog failed (the chunks already written are kept).
        """

        def report(p: Any) -> None:
            if progress is not None:
                progress(f"{p.chunks_done} of {p.chunks_total} chunks synced · {p.records:,} records")

        catalog = CatalogBackend(self.catalog_path)
        try:
            done = sync_query(catalog, remote, query, progress=report)
        finally:
            catalog.close()
        return done.summary()

    def finished(self, summary: str) -> None:
        self.param.update(
            running=False,
            failed=False,
            progress="",
            message=f"Kept offline in {self.catalog_path}. {summary}. Open that catalog as the backend "
            "to search these sources and months without a network.",
        )

    def failed_with(self, exc: BaseException) -> None:
        if isinstance(exc, AuroraXCoreError):
            text = f"Keeping the results offline failed: {exc}. What was synced so far is kept; try again."
        else:
            text = f"Keeping the results offline failed unexpectedly ({type(exc).__name__}: {exc})."
        self.param.update(running=False, failed=True, progress="", message=text)
