"""Choose the backend in the page: the embedded catalog or an AuroraX API URL (checked first)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
import param

from aurorax_core import ConnectivityCheck, open_backend

from ..media import esc, http_url
from ..state import DashboardSession, friendly_error
from .base import SessionView
from .style import html

_ROUND_RADIOS = """
input[type="radio"] { appearance: auto; -webkit-appearance: radio; border-radius: 50%;
                      width: 16px; height: 16px; accent-color: #0072b2; margin-right: 6px; }
"""
EMBEDDED = "Embedded catalog"
REMOTE = "AuroraX API"


def connect(spec: Any) -> tuple[Any, list[Any], dict[str, list[Any]]]:
    """Open a backend, prove it answers, and load its vocabulary (blocking: run it off the event loop).

    Raises:
        AuroraXCoreError: the URL/catalog cannot be used; the message says why.
    """
    backend = open_backend(spec)
    try:
        if isinstance(backend, ConnectivityCheck):
            backend.check_connectivity()
        sources, vocabulary = DashboardSession.load_vocabulary(backend)
    except BaseException:
        backend.close()
        raise
    return backend, sources, vocabulary


class BackendPanel(SessionView):
    """Radio (embedded / API), URL field, Connect button and a status line."""

    default_url = param.String(default="https://api.aurorax.space")

    def __init__(self, embedded_spec: Callable[[], Any] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self._embedded_spec = embedded_spec or (lambda: None)
        self._connecting = self.session.runner.lane()
        remote = self.session.backend_name.startswith(("http://", "https://"))
        # Radio inputs (not toggle buttons): which backend is active must be obvious in both themes.
        self._kind = pn.widgets.RadioBoxGroup(
            label="Backend",
            options=[EMBEDDED, REMOTE],
            value=REMOTE if remote else EMBEDDED,
            inline=True,
            # The page design draws radio inputs as squares; these must read as "one of two".
            stylesheets=[_ROUND_RADIOS],
        )
        self._url = pn.widgets.TextInput(
            label="AuroraX API URL",
            value=self.session.backend_name if remote else self.default_url,
            placeholder="https://api.aurorax.space",
            sizing_mode="stretch_width",
            visible=remote,
        )
        self._connect = pn.widgets.Button(label="Connect", color="default", sizing_mode="stretch_width")
        self._status = html("", sizing_mode="stretch_width", margin=(0, 10))
        self._kind.param.watch(self._on_kind, "value")
        self._connect.on_click(lambda _e: self.switch())
        self._url.param.watch(lambda _e: self.switch(), "enter_pressed")
        self._render()

    @param.depends("session.backend_name", watch=True)
    def _on_backend(self) -> None:
        self._render()

    def _using_remote(self) -> bool:
        return self.session.backend_name.startswith(("http://", "https://"))

    def _on_kind(self, *_: Any) -> None:
        self._url.visible = self._kind.value == REMOTE
        # Choosing the embedded catalog switches at once, unless it is already in use (which is
        # also the case when the radio follows the backend, so nothing echoes back).
        if self._kind.value == EMBEDDED and (self.session.backend is None or self._using_remote()):
            self.switch()

    def _sync_choice(self) -> None:
        """Show the backend actually in use (e.g. one preset by AURORAX_API_URL)."""
        name = self.session.backend_name
        if not name:
            return
        remote = name.startswith(("http://", "https://"))
        self._kind.value = REMOTE if remote else EMBEDDED
        if remote:
            self._url.value = name

    def _render(self, *_: Any, message: str = "", error: bool = False) -> None:
        if message:
            cls = "ax-alert ax-alert-error" if error else "ax-dim"
            role = "alert" if error else "status"
            self._status.object = f'<div class="{cls}" role="{role}">{message}</div>'
            return
        self._sync_choice()
        self._status.object = f'<p class="ax-dim" role="status">Using {esc(self.session.backend_name or "—")}</p>'

    def switch(self) -> None:
        """Connect to what the form says, off the event loop; keep the old backend on failure."""
        if self._kind.value == REMOTE:
            url = http_url(self._url.value)
            if url is None:
                self._render(
                    message=esc(f"{self._url.value!r} is not an http(s) URL; enter e.g. https://api.aurorax.space"),
                    error=True,
                )
                return
            spec: Any = url
        else:
            spec = self._embedded_spec()
        self._connect.disabled = True
        self._render(message=esc(f"Connecting to {spec or 'the embedded catalog'} …"))
        self._connecting.submit(
            lambda: connect(spec),
            lambda answer: self._done(*answer),
            self._failed,
            # A newer choice was made meanwhile: nobody will use this connection.
            discard=lambda answer: answer[0].close(),
        )

    def _failed(self, exc: BaseException) -> None:
        self._connect.disabled = False
        title, message = friendly_error(exc, action="Connecting")
        # The radio shows what is really in use again (the URL typed stays in its hidden field).
        self._sync_choice()
        self._render(
            message=f"<strong>{esc(title)}</strong><p>{esc(message)}</p><p>Still using "
            f"{esc(self.session.backend_name or 'no backend')}.</p>",
            error=True,
        )

    def _done(self, backend: Any, sources: list[Any], vocabulary: dict[str, list[Any]]) -> None:
        self._connect.disabled = False
        self.session.apply_backend(backend, sources, vocabulary)
        self._render()

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Card(
            self._kind,
            self._url,
            self._connect,
            self._status,
            title="Backend",
            collapsed=False,
            sizing_mode="stretch_width",
        )
