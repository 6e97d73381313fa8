"""NovaLink through the real pypowervm client: the event feed and state reads.

Why our own poll loop rather than pypowervm's EventListener thread: that
thread sleeps a fixed 5 s after any error and never reconnects (a dead
session stays dead), offers no clean stop while a long poll is in flight,
and hides feed errors from metrics. We keep pypowervm for everything it is
good at -- ``Session`` (logon, password or local file auth, re-logon on 401),
``Adapter`` (requests, HttpError parsing, Atom feed parsing) -- and read
the same queue URL the EventListener reads, so NovaLink sees the same client.

Every feed response is handed over as one batch. A (re)connect opens a new
session, hence a new application id, and NovaLink answers its first read
with NEW_CLIENT: the engine resyncs after every reconnect by construction.
Errors back off exponentially with jitter, capped, and are counted.

TLS: pypowervm verifies the server only at logon and only against the
system bundle; ``_VerifyingSession`` makes every request verify against the
configured CA file (or the system bundle), unless ``insecure`` is set
explicitly.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from pypowervm import adapter as pvm_adapter
from pypowervm import entities as pvm_entities
from pypowervm import exceptions as pvm_exc

from lpar_eventd import heap
from lpar_eventd.engine.events import Event
from lpar_eventd.engine.ports import Clock, LparGone, MonotonicClock
from lpar_eventd.metrics import Metrics
from lpar_eventd.sources import feedguard

__all__ = ["NovaLinkSettings", "NovaLinkSource", "NovaLinkStateReader",
           "SourceStopped", "connect", "EVENT_PATH"]

LOG = logging.getLogger(__name__)

EVENT_PATH = "Event?QUEUE_CLIENTKEY_METHOD=USE_APPLICATIONID&QUEUE_APPLICATIONID=%s"
API_ROOT = "/rest/api/uom/"
ATOM = "application/atom+xml"


@dataclass
class NovaLinkSettings:
    """Where NovaLink is and how to log on ([novalink] options)."""

    host: str = "localhost"
    port: int | None = None
    protocol: str | None = None       # http for local file auth, else https
    username: str | None = None
    password: str | None = None       # None: local file authentication
    ca_file: str | None = None        # None: the system CA bundle
    insecure: bool = False            # skip TLS verification (explicit only)
    timeout: float = 60.0             # per request; above the long-poll wait
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    min_poll_interval: float = 0.5    # an empty feed answered faster waits this

    def __repr__(self) -> str:  # never show the password
        return (f"NovaLinkSettings(host={self.host!r}, port={self.port!r}, "
                f"protocol={self.protocol!r}, username={self.username!r}, "
                f"password={'***' if self.password else None})")


class SourceStopped(RuntimeError):
    """The source was stopped: no new NovaLink session is handed out."""


class _VerifyingSession(pvm_adapter.Session):
    """A pypowervm Session that verifies TLS on every request, not only logon."""

    def __init__(self, verify: bool | str, **kwargs: Any):
        self._lpar_eventd_verify = verify
        super().__init__(**kwargs)

    def request(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if self.protocol == "https":
            kwargs["verify"] = self._lpar_eventd_verify
        feedguard.harden_thread()  # pypowervm's own parses of this thread, too
        resp = super().request(method, path, *args, **kwargs)
        headers = kwargs.get("headers", args[0] if args else None) or {}
        guard(resp, path, headers.get("Accept", ""))
        return resp


def connect(settings: NovaLinkSettings) -> pvm_adapter.Adapter:
    """Log on and return a pypowervm Adapter (raises pypowervm errors)."""
    verify: bool | str = False if settings.insecure else (settings.ca_file or True)
    session = _VerifyingSession(
        verify, host=settings.host, username=settings.username,
        password=settings.password, protocol=settings.protocol,
        port=settings.port, timeout=settings.timeout,
        certpath=None if settings.insecure else "", conn_tries=1)
    return pvm_adapter.Adapter(session)


def _app_id(adapter: pvm_adapter.Adapter) -> str:
    """The queue id pypowervm's EventListener would use for this session."""
    import hashlib
    token = adapter.session._sessToken
    if isinstance(token, bytes):
        token = token.decode("utf-8", "replace")
    return hashlib.md5(token.encode("utf-8"), usedforsecurity=False).hexdigest()


class NovaLinkSource:
    """Long-polls the event feed on its own thread; hands each response over.

    It logs on itself (``connect``), or reads through an adapter it borrows
    (``on_adapter``: a compute driver's, inside nova-compute), which it never
    logs off nor discards: pypowervm's Session logs on again after a 401 by
    itself, and the session belongs to the driver.
    """

    def __init__(self, settings: NovaLinkSettings, metrics: Metrics,
                 clock: Clock | None = None,
                 connect_fn: Callable[[NovaLinkSettings], Any] = connect,
                 rng: random.Random | None = None, owns_session: bool = True):
        self._settings = settings
        self._metrics = metrics
        self._clock = clock or MonotonicClock()
        self._connect = connect_fn
        self._owns_session = owns_session
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._adapter: Any = None
        self._adapter_lock = threading.Lock()
        self.first_read = threading.Event()
        self.last_read_at: float | None = None
        #: the last failed read, one line and no secrets (None once a read succeeds)
        self.last_error: str | None = None
        self.reconnects = 0

    @classmethod
    def on_adapter(cls, adapter: Any, metrics: Metrics,
                   settings: NovaLinkSettings | None = None) -> "NovaLinkSource":
        """A source reading the feed through ``adapter`` (a pypowervm Adapter
        someone else logged on), as a compute driver's own event listener
        would; ``settings`` only for the backoff and poll timing."""
        settings = settings or NovaLinkSettings(host=adapter.session.host)
        return cls(settings, metrics, connect_fn=lambda _settings: adapter,
                   owns_session=False)

    # -- lifecycle -----------------------------------------------------------
    def start(self, on_batch: Callable[[Sequence[Event]], None]) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(on_batch,),
                                        name="novalink-feed", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading; a long poll in flight is abandoned, not awaited long."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        with self._adapter_lock:
            adapter, self._adapter = self._adapter, None
        if adapter is not None and self._owns_session:
            _log_off(adapter.session)
        self._metrics.source_up.set(0)

    def adapter(self) -> Any:
        """The current adapter (for the state reader sharing the session).

        The logon runs outside the lock: a NovaLink that accepts connections
        but does not answer holds a logon for the whole request timeout, and
        under the lock that stalled ``stop()`` (SIGTERM) and queued every
        settle worker behind it, each then trying its own logon in turn.
        Threads that find no session each log on; the first to finish wins
        and the others log off again. A logon that finishes after ``stop()``
        is logged off too (no session left behind on NovaLink).
        """
        with self._adapter_lock:
            if self._adapter is not None:
                return self._adapter
        fresh = self._connect(self._settings)
        with self._adapter_lock:
            if self._adapter is None and not self._stop.is_set():
                self._adapter = fresh
            current = self._adapter
        if current is not fresh:
            if self._owns_session:
                _log_off(fresh.session)
            if current is None:
                raise SourceStopped("the NovaLink source was stopped during logon")
        return current

    # -- the loop -------------------------------------------------------------
    def _run(self, on_batch: Callable[[Sequence[Event]], None]) -> None:
        failures = 0
        app_id = None
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                adapter = self.adapter()
                if app_id is None:
                    app_id = _app_id(adapter)
                events = self._read(adapter, app_id)
            except Exception as exc:  # the feed's isolation boundary
                error: Exception | None = exc
            else:
                error = None
            if error is not None:
                # Handled outside the except block: oslo.log appends the
                # exception in flight to every WARNING, and pypowervm's error
                # text (URLs, bodies) is what _describe keeps out of the log.
                if self._stop.is_set():  # stopped mid-read or mid-logon: not a failure
                    break
                failures += 1
                app_id = None
                self._on_error(error, failures)
                continue
            failures = 0
            self._metrics.source_up.set(1)
            self.last_error = None
            self.last_read_at = self._clock.now()
            self._metrics.last_feed_read.set(time.time())
            self.first_read.set()
            if events and not self._stop.is_set():
                on_batch(events)
            elif not events:
                # A server that answers an empty feed at once (no long poll)
                # must not make us spin.
                self._stop.wait(self._settings.min_poll_interval
                                - (time.monotonic() - started))

    def _read(self, adapter: Any, app_id: str) -> list[Event]:
        """One long poll. The Session (logon, re-logon, TLS, errors) is
        pypowervm's; its Adapter would parse the body again after our guard
        did, so the guard's checked tree goes to pypowervm's Feed unmarshal."""
        resp = adapter.session.request("GET", API_ROOT + EVENT_PATH % app_id,
                                       headers={"Accept": ATOM},
                                       timeout=self._settings.timeout)
        return feed_events(resp, self._clock.now())

    def _on_error(self, exc: BaseException, failures: int) -> None:
        self._metrics.source_errors.inc()
        self._metrics.source_up.set(0)
        if _needs_new_session(exc):
            with self._adapter_lock:
                dead, self._adapter = self._adapter, None
            if dead is not None and self._owns_session:
                _forget_session(dead.session)
            self.reconnects += 1
            self._metrics.source_reconnects.inc()
        delay = self._backoff(failures)
        self.last_error = _describe(exc)
        LOG.warning("NovaLink feed at %s: %s; retrying in %.1f s (failure %d)",
                    self._settings.host, self.last_error, delay, failures)
        self._stop.wait(delay)

    def _backoff(self, failures: int) -> float:
        s = self._settings
        cap = min(s.backoff_max, s.backoff_base * 2 ** (failures - 1))
        return self._rng.uniform(cap / 2, cap)  # "equal jitter"


def guard(resp: Any, path: str, accept: str) -> None:
    """Check an answer before anything parses it (``feedguard``); the checked
    tree rides along so the feed reader unmarshals it rather than parse the
    body a second time (~15 us an event)."""
    resp.lpar_eventd_root = feedguard.check_response(resp, path, accept)


def feed_events(resp: Any, received_at: float) -> list[Event]:
    """The Events of one guarded event-feed answer: the guard's tree through
    pypowervm's own Feed unmarshal, each entry's fields read in one pass."""
    root = getattr(resp, "lpar_eventd_root", None)
    if resp is None or resp.status == 204 or root is None:
        return []
    out = []
    for entry in pvm_entities.Feed.unmarshal_atom_feed(root, resp).entries:
        fields = _event_fields(entry.element.element)
        out.append(Event.parse(fields.get("EventType"), fields.get("EventData"),
                               fields.get("EventDetail"), received_at, fields.get("EventID")))
    return out


_EVENT_FIELDS = frozenset(("EventType", "EventData", "EventDetail", "EventID"))


def _event_fields(element: Any) -> dict[str, str | None]:
    """The text children of one Event (the lxml element pypowervm parsed), in
    one pass. pypowervm's ``Element.findtext`` qualifies a path and searches
    per call: four calls an event were a quarter of the feed reader's time.
    An empty element reads as None, as ``findtext`` returns it."""
    out: dict[str, str | None] = {}
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):  # a comment or processing instruction
            continue
        name = tag.rpartition("}")[2]
        if name in _EVENT_FIELDS and name not in out:
            out[name] = child.text or None
    return out


def _log_off(session: Any) -> None:
    """Log off now (pypowervm would otherwise try when the object is collected)."""
    try:
        session._logoff()
    except Exception as exc:  # logging off is best effort
        LOG.debug("NovaLink logoff failed: %s", _describe(exc))
    _forget_session(session)


def _forget_session(session: Any) -> None:
    """A dead or expired session: no logoff request when it is collected."""
    session._logged_in = False


def _needs_new_session(exc: BaseException) -> bool:
    """Connection failures and auth failures need a new session; a 5xx or a
    rejected body does not."""
    if isinstance(exc, feedguard.FeedRejected):
        return False
    if isinstance(exc, pvm_exc.HttpError):
        status = getattr(getattr(exc, "response", None), "status", None)
        return status in (401, 403)
    return True


def _describe(exc: BaseException) -> str:
    """One line, no secrets (pypowervm errors can carry request bodies)."""
    if isinstance(exc, pvm_exc.HttpError):
        resp = getattr(exc, "response", None)
        return f"HTTP {getattr(resp, 'status', '?')} {getattr(resp, 'reason', '')}".strip()
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}"


class NovaLinkStateReader:
    """The StateReader port over the source's session (same adapter)."""

    def __init__(self, adapter_fn: Callable[[], Any]):
        self._adapter = adapter_fn

    def read_state(self, lpar_uuid: str) -> str:
        try:
            resp = self._adapter().read("LogicalPartition", root_id=lpar_uuid,
                                        suffix_type="quick",
                                        suffix_parm="PartitionState")
        except pvm_exc.HttpError as exc:
            if getattr(getattr(exc, "response", None), "status", None) == 404:
                raise LparGone(lpar_uuid) from None
            raise
        return _json_value(resp.body)

    def list_lpars(self) -> Mapping[str, str]:
        """Every LPAR's state, from the full LogicalPartition feed (resyncs
        only: it is large), whose memory is handed back to the OS at once."""
        listing = self._list()
        heap.release()
        return listing

    def _list(self) -> dict[str, str]:
        from pypowervm.wrappers import logical_partition as pvm_lpar
        resp = self._adapter().read("LogicalPartition", xag=[])
        return {w.uuid.upper(): w.state for w in pvm_lpar.LPAR.wrap(resp)}


def _json_value(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    value = json.loads(body)
    if not isinstance(value, str):
        raise ValueError(f"unexpected PartitionState value {value!r}")
    return value
