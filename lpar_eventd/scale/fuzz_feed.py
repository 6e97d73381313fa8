"""Fuzz the feed path with malformed NovaLink answers, through the real code.

Each case is one bad answer to the source's event read, followed by one good
answer carrying a marker event. Both go over real HTTP on loopback (a tiny
scripted NovaLink), through pypowervm's Session/Adapter/Response exactly as
``NovaLinkSource`` uses them, our ``feedguard``, ``Event.parse`` and a
``DefaultHandler`` over in-memory ports. Per case we check:

* no crash: the feed thread is alive and nothing escaped;
* no hang: the marker arrives within ``--case-timeout`` seconds;
* counted once: ``source_errors_total`` grows by exactly 1 for an answer that
  must be refused, by 0 for one that must be accepted (unknown EventTypes,
  bad URIs: counted as events and ignored by the engine);
* logged once: one WARNING for a refused answer, none otherwise, with the
  reason in it -- and no pypowervm dump of the body;
* never resolved: the marker text of a local file named by an external
  entity never shows in an event or in any log record (DEBUG included);
* later good events still processed: every marker reaches the engine.

    python -m lpar_eventd.scale.fuzz_feed --cases 10000 --seed 1
"""

from __future__ import annotations

import argparse
import collections
import logging
import queue
import random
import secrets
import sys
import tempfile
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lpar_eventd.engine.events import Event, parse_lpar_uuid
from lpar_eventd.engine.handler import DefaultHandler, EngineConfig, Ports
from lpar_eventd.engine.inmemory import FakeClock, MemoryHost, MemoryNova, MemorySink
from lpar_eventd.metrics import Metrics
from lpar_eventd.simulator import wire
from lpar_eventd.sources import feedguard
from lpar_eventd.sources.novalink import NovaLinkSettings, NovaLinkSource

__all__ = ["Case", "CATEGORIES", "FuzzRun", "make_case", "main", "run"]

BASE = "https://novalink.example:12443"
MS = "6D0A8D6E-8AC9-3A8C-9A5D-C7C9E1A7B1F2"
ATOM = "http://www.w3.org/2005/Atom"
# The runner lowers the size limit so that "too large" cases stay cheap.
FUZZ_MAX_BYTES = 2 * 1024 * 1024

ERROR, OK, EMPTY, EITHER = "error", "ok", "empty", "either"


@dataclass
class Case:
    """One answer to an event read, and what the source must make of it."""

    category: str
    body: bytes
    expect: str                  # error | ok | empty | either
    status: int = 200
    content_type: str = "application/atom+xml"


def lpar_uri(uuid: str) -> str:
    return f"{BASE}/rest/api/uom/ManagedSystem/{MS}/LogicalPartition/{uuid}"


def _entry(etype: str | None, data: str | None, detail: str | None,
           eid: str | None = "1", ns: str = wire.UOM_NS) -> str:
    """An Event entry; a None field is left out entirely."""
    def el(tag: str, value: str | None) -> str:
        if value is None:
            return ""
        return f'<{tag} kb="ROR" kxe="false">{_escape(value)}</{tag}>'
    return (f'<entry><id>{uuidlib.uuid4()}</id><title>Event</title>'
            f'<content type="application/vnd.ibm.powervm.uom+xml; type=Event">'
            f'<Event:Event xmlns:Event="{ns}" xmlns="{ns}" schemaVersion="V1_1_0">'
            f'<Metadata><Atom/></Metadata>{el("EventType", etype)}{el("EventID", eid)}'
            f'{el("EventData", data)}{el("EventDetail", detail)}'
            f'</Event:Event></content></entry>')


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def feed(entries: Sequence[str], ns: str = ATOM, root: str = "feed",
         prolog: str = "") -> bytes:
    return (f'{prolog}<{root} xmlns="{ns}"><id>{uuidlib.uuid4()}</id>'
            f'<generator>{wire.GENERATOR}</generator>{"".join(entries)}</{root}>'
            ).encode()


def good_feed(rng: random.Random, n: int | None = None) -> bytes:
    n = n if n is not None else rng.randint(1, 5)
    return feed([_entry("MODIFY_URI", lpar_uri(_uuid(rng)), "PartitionState")
                 for _ in range(n)])


def _uuid(rng: random.Random) -> str:
    return str(uuidlib.UUID(int=rng.getrandbits(128))).upper()


_VALID_POOLS = ("abcXYZ019-_/:?&=#", "<>&'\"]]>", "\t\r\n \x7f",
                "é€漢字🙂\u200b\ufeff\u202e\u0663")
# Characters XML 1.0 forbids even escaped: a parser must refuse them.
_INVALID_POOL = "\x00\x01\x0b\x0c\x1f\ufffe\uffff"


def _junk(rng: random.Random, n: int, invalid: bool = False) -> str:
    """Arbitrary text of characters XML allows (ASCII, markup specials, astral,
    bidi, zero-width); with ``invalid``, also characters it forbids."""
    pools = _VALID_POOLS + ((_INVALID_POOL,) if invalid else ())
    return "".join(rng.choice(rng.choice(pools)) for _ in range(n))


def _invalid_chars(rng: random.Random) -> Case:
    text = _junk(rng, rng.randint(1, 20)) + rng.choice(_INVALID_POOL)
    field_at = rng.randrange(3)
    fields = ["MODIFY_URI", lpar_uri(_uuid(rng)), "PartitionState"]
    fields[field_at] += text
    return Case("invalid_chars", feed([_entry(*fields)]), ERROR)


# -- generators: one per category ---------------------------------------------------
def _broken_xml(rng: random.Random) -> Case:
    body = good_feed(rng)
    how = rng.randrange(5)
    if how == 0:      # truncated
        body = body[:rng.randrange(1, len(body) - 1)]
    elif how == 1:    # a stray byte of markup somewhere
        at = rng.randrange(len(body))
        body = body[:at] + rng.choice([b"<", b"&", b"</x>", b"<!", b"]]>", b"\"'"]) + body[at:]
    elif how == 2:    # a closing tag dropped
        tag = rng.choice([b"</entry>", b"</content>", b"</EventType>", b"</feed>"])
        body = body.replace(tag, b"", 1)
    elif how == 3:    # mismatched tags
        body = body.replace(b"</EventData>", b"</EventDetail>", 1)
    else:             # not XML at all
        body = _junk(rng, rng.randint(1, 300), invalid=True).encode("utf-8", "replace")
    return Case("broken_xml", body, EITHER if how == 1 else ERROR)


def _wrong_namespace(rng: random.Random) -> Case:
    how = rng.randrange(4)
    entries = [_entry("MODIFY_URI", lpar_uri(_uuid(rng)), "PartitionState")]
    if how == 0:
        return Case("wrong_namespace", feed(entries, ns="http://www.w3.org/2005/Atom2"), ERROR)
    if how == 1:
        return Case("wrong_namespace", feed(entries, ns=""), ERROR)
    if how == 2:
        return Case("wrong_namespace", feed(entries, root="rss"), ERROR)
    # the Event element in a foreign namespace: pypowervm finds no fields
    return Case("wrong_namespace", feed([_entry("MODIFY_URI", lpar_uri(_uuid(rng)),
                                                 "PartitionState", ns="urn:x")]), EITHER)


def _missing_fields(rng: random.Random) -> Case:
    fields = ["MODIFY_URI", lpar_uri(_uuid(rng)), "PartitionState", "7"]
    for i in range(4):
        if rng.random() < 0.5:
            fields[i] = None  # type: ignore[call-overload]
    how = rng.randrange(4)
    if how == 0:
        return Case("missing_fields", feed([_entry(*fields)]), OK)
    if how == 1:      # an entry without content
        return Case("missing_fields", feed(["<entry><id>x</id></entry>"]), ERROR)
    if how == 2:      # content without an Event element
        return Case("missing_fields", feed(['<entry><content type="x"/></entry>']), ERROR)
    return Case("missing_fields", feed([]), OK)  # an empty feed with a 200


def _huge_fields(rng: random.Random) -> Case:
    size = rng.choice([10_000, 100_000, 500_000])
    which = rng.randrange(3)
    big = _junk(rng, 50) * (size // 50)
    fields = ["MODIFY_URI", lpar_uri(_uuid(rng)), "PartitionState"]
    fields[which] = big if which != 1 else lpar_uri(_uuid(rng)) + "?" + big
    return Case("huge_fields", feed([_entry(*fields)]), OK)


def _too_large(rng: random.Random) -> Case:
    pad = "x" * (FUZZ_MAX_BYTES + rng.randint(1, 4096))
    return Case("too_large", feed([_entry("MODIFY_URI", lpar_uri(_uuid(rng)), pad)]), ERROR)


def _unknown_event_type(rng: random.Random) -> Case:
    etype = rng.choice(["", " ", "modify_uri", "MODIFY_URI ", "REBOOT", "X" * 300,
                        _junk(rng, rng.randint(1, 40))])
    return Case("unknown_event_type",
                feed([_entry(etype, lpar_uri(_uuid(rng)), "PartitionState")]), OK)


def _bad_uri(rng: random.Random) -> Case:
    good = _uuid(rng)
    uri = rng.choice([
        f"{BASE}/rest/api/uom/LogicalPartition/{good[:-1]}",
        f"{BASE}/rest/api/uom/LogicalPartition/{good}0",
        f"{BASE}/rest/api/uom/LogicalPartition/{good.replace('-', '')}",
        f"{BASE}/rest/api/uom/LogicalPartition/{good[:8]}G{good[9:]}",
        f"{BASE}/rest/api/uom/LogicalPartition/{good}/extra",
        f"{BASE}/rest/api/uom/VirtualIOServer/{good}",
        f"{BASE}/rest/api/uom/LogicalPartition/",
        f"{BASE}/rest/api/uom/LogicalPartition/{good}#frag",
        f"{BASE}/rest/api/uom/LogicalPartition/\u0663{good[1:]}",  # Arabic-Indic 3
        f"LogicalPartition{good}", f"javascript:alert(1)//LogicalPartition/{good}x",
        "", _junk(rng, rng.randint(1, 200)), "/" * 500,
    ])
    return Case("bad_uri", feed([_entry("MODIFY_URI", uri, "PartitionState")]), OK)


def _non_utf8(rng: random.Random) -> Case:
    body = good_feed(rng)
    how = rng.randrange(3)
    if how == 0:      # invalid UTF-8 sequences inside a text field
        bad = bytes(rng.choice([0x80, 0xC0, 0xFF, 0xFE, 0xED]) for _ in range(rng.randint(1, 8)))
        body = body.replace(b"PartitionState", b"Partition" + bad + b"State", 1)
    elif how == 1:    # latin-1 bytes with a UTF-8 declaration
        body = b'<?xml version="1.0" encoding="UTF-8"?>' + body.replace(
            b"PartitionState", "PartitionÉtat".encode("latin-1"), 1)
    else:             # UTF-16 without a BOM
        body = body.decode("utf-8").encode("utf-16-le")
    return Case("non_utf8", body, EITHER)


def _deep(rng: random.Random) -> Case:
    depth = rng.choice([70, 300, 5000, 50_000])
    inner = "<a>" * depth + "</a>" * depth
    body = feed([f'<entry><content type="x">{inner}</content></entry>'])
    return Case("deep_nesting", body, ERROR)


def _billion_laughs(rng: random.Random) -> Case:
    levels = rng.randint(3, 10)
    ents = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, levels)]
    prolog = f'<?xml version="1.0"?><!DOCTYPE feed [{"".join(ents)}]>'
    entries = [_entry("MODIFY_URI", lpar_uri(_uuid(rng)), "PartitionState")]
    body = feed(entries, prolog=prolog).replace(
        b"PartitionState", f"&l{levels - 1};".encode(), 1)
    if rng.random() < 0.3:  # quadratic blowup: one big entity, many references
        big = "A" * 50_000
        body = (f'<!DOCTYPE feed [<!ENTITY a "{big}">]>'.encode()
                + feed([_entry("MODIFY_URI", "&a;" * 2000, "x")]))
        body = body.replace(b"&amp;a;", b"&a;")
    return Case("billion_laughs", body, ERROR)


def _xxe(rng: random.Random, marker_file: Path) -> Case:
    uri = marker_file.as_uri()
    how = rng.randrange(4)
    if how == 0:
        prolog = f'<!DOCTYPE feed [<!ENTITY x SYSTEM "{uri}">]>'
    elif how == 1:
        prolog = f'<!DOCTYPE feed [<!ENTITY % p SYSTEM "{uri}"> %p;]>'
    elif how == 2:
        prolog = f'<!DOCTYPE feed SYSTEM "{uri}">'
    else:             # XInclude: lxml only processes it when asked to
        inc = (f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{uri}" '
               f'parse="text"/>')
        return Case("xxe", feed([_entry("MODIFY_URI", lpar_uri(_uuid(rng)), "x")
                                 .replace("<Metadata>", inc + "<Metadata>")]), EITHER)
    body = feed([_entry("MODIFY_URI", lpar_uri(_uuid(rng)), "PartitionState")],
                prolog=prolog).replace(b"PartitionState", b"&x;", 1)
    return Case("xxe", body, ERROR)


def _status_mismatch(rng: random.Random) -> Case:
    if rng.random() < 0.5:
        return Case("status_mismatch", b"", ERROR, status=200)
    # HTTP forbids a body with 204: clients read none, the feed is empty.
    return Case("status_mismatch", good_feed(rng), EMPTY, status=204)


def _entry_not_feed(rng: random.Random) -> Case:
    body = _entry("MODIFY_URI", lpar_uri(_uuid(rng)), "PartitionState").replace(
        "<entry>", f'<entry xmlns="{ATOM}">', 1).encode()
    return Case("entry_not_feed", body, ERROR)


def _valid(rng: random.Random) -> Case:
    return Case("valid", good_feed(rng, rng.randint(0, 20)), OK)


CATEGORIES: dict[str, Callable[..., Case]] = {
    "broken_xml": _broken_xml, "wrong_namespace": _wrong_namespace,
    "missing_fields": _missing_fields, "huge_fields": _huge_fields,
    "too_large": _too_large, "unknown_event_type": _unknown_event_type,
    "bad_uri": _bad_uri, "non_utf8": _non_utf8, "deep_nesting": _deep,
    "billion_laughs": _billion_laughs, "xxe": _xxe, "status_mismatch": _status_mismatch,
    "entry_not_feed": _entry_not_feed, "invalid_chars": _invalid_chars, "valid": _valid,
}
# Expensive categories are drawn less often.
WEIGHTS = {"huge_fields": 2, "too_large": 1, "deep_nesting": 4}


def make_case(rng: random.Random, category: str, marker_file: Path) -> Case:
    gen = CATEGORIES[category]
    return gen(rng, marker_file) if category == "xxe" else gen(rng)


# -- a scripted NovaLink -------------------------------------------------------
class _QuietServer(ThreadingHTTPServer):
    """A client that drops the connection (it read no body after a 204) is normal."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError):
            super().handle_error(request, client_address)


class ScriptedNovaLink:
    """Logon, logoff, and event reads answered from a queue (204 when empty)."""

    def __init__(self, token: str):
        self.token = token
        self.answers: queue.Queue[Case] = queue.Queue()
        self.logons = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-MC-Type", "PVM")
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.logons += 1
                self._send(200, wire.logon_response(outer.token),
                           "application/vnd.ibm.powervm.web+xml; type=LogonResponse")

            def do_DELETE(self) -> None:  # noqa: N802
                self._send(204, b"", "text/plain")

            def do_GET(self) -> None:  # noqa: N802
                try:
                    case = outer.answers.get(timeout=0.05)
                except queue.Empty:
                    self._send(204, b"", "text/plain")
                    return
                self._send(case.status, case.body, case.content_type)

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        name="fuzz-novalink", daemon=True)

    def start(self) -> "ScriptedNovaLink":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Capture(logging.Handler):
    """Every log record while a case runs (DEBUG included, all loggers)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._mu = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._mu:
            self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        with self._mu:
            out, self.records = self.records, []
        return out


@dataclass
class FuzzRun:
    """The figures of one run."""

    cases: int = 0
    by_category: collections.Counter[str] = field(default_factory=collections.Counter)
    refused: collections.Counter[str] = field(default_factory=collections.Counter)
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    crashes: int = 0
    hangs: int = 0
    miscounted: int = 0
    log_violations: int = 0
    marker_leaks: int = 0
    false_lpars: int = 0
    markers_processed: int = 0
    max_case_seconds: float = 0.0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.crashes or self.hangs or self.miscounted or self.log_violations
                    or self.marker_leaks or self.false_lpars
                    or self.markers_processed != self.cases)

    def fail(self, text: str) -> None:
        if len(self.failures) < 20:
            self.failures.append(text)

    def summary(self) -> str:
        lines = [f"fuzz feed: {self.cases} cases in {self.seconds:.1f} s "
                 f"(slowest case {self.max_case_seconds:.2f} s)",
                 "  by category (cases / refused and counted):"]
        for name in sorted(self.by_category):
            lines.append(f"    {name:<20} {self.by_category[name]:>6} / "
                         f"{self.refused[name]:>6}")
        lines.append("  refusal reasons: " + ", ".join(
            f"{k} {v}" for k, v in self.reasons.most_common()))
        lines += [f"  crashes: {self.crashes}", f"  hangs: {self.hangs}",
                  f"  miscounted (source_errors_total): {self.miscounted}",
                  f"  log violations (not exactly one warning per refusal): "
                  f"{self.log_violations}",
                  f"  external entity marker leaked: {self.marker_leaks}",
                  f"  non-LPAR URIs taken for LPARs: {self.false_lpars}",
                  f"  good events processed after bad answers: "
                  f"{self.markers_processed}/{self.cases}"]
        lines += [f"  FAIL {f}" for f in self.failures]
        lines.append("result: " + ("OK" if self.ok else "FAILED"))
        return "\n".join(lines)


def _reason(record: logging.LogRecord) -> str:
    """The error kind in our loop's warning: 'FeedRejected: malformed XML...' etc."""
    described = str(record.args[1]) if isinstance(record.args, tuple) and \
        len(record.args) > 1 else record.getMessage()
    head, _, rest = described.partition(": ")
    if head == "FeedRejected":
        for prefix, name in _REASONS:
            if rest.startswith(prefix):
                return name
    return head


_REASONS = (("malformed XML", "malformed"), ("body declares", "dtd_or_entity"),
            ("an Atom entry without", "no_content"), ("an Atom entry where", "entry_not_feed"),
            ("not an Atom", "not_atom"), ("XML nested", "too_deep"),
            ("HTTP 200", "empty_200"), ("body of", "too_large"))


class _Harness:
    """A NovaLinkSource on a scripted NovaLink, feeding a DefaultHandler."""

    def __init__(self, case_timeout: float):
        self.case_timeout = case_timeout
        self.token = secrets.token_urlsafe(96)
        self.server = ScriptedNovaLink(self.token).start()
        self.metrics = Metrics()
        self.clock = FakeClock()
        self.sink = MemorySink()
        self.handler = DefaultHandler(Ports(MemoryHost(), MemoryNova(), self.sink),
                                      EngineConfig(), self.metrics, self.clock)
        self.events: list[Event] = []
        self._seen = threading.Condition()
        self.batch_errors: list[BaseException] = []
        settings = NovaLinkSettings(host="127.0.0.1", port=self.server.port,
                                    protocol="http", username="fuzz",
                                    password=secrets.token_urlsafe(16), timeout=10.0,
                                    backoff_base=0.001, backoff_max=0.002,
                                    min_poll_interval=0.0)
        self.source = NovaLinkSource(settings, self.metrics, clock=self.clock)

    def on_batch(self, batch: Sequence[Event]) -> None:
        try:
            self.handler.accept_batch(batch)
        except Exception as exc:  # a crash of the engine: recorded, reported
            self.batch_errors.append(exc)
        with self._seen:
            self.events.extend(batch)
            self._seen.notify_all()

    def start(self) -> None:
        self.source.start(self.on_batch)

    def stop(self) -> None:
        self.source.stop(2.0)
        self.server.stop()

    def errors(self) -> float:
        return self.metrics.registry.get_sample_value(
            "lpar_eventd_source_errors_total") or 0.0

    def wait_marker(self, marker: str, since: int) -> list[Event] | None:
        """The events received since index ``since`` up to the marker, or None."""
        deadline = time.monotonic() + self.case_timeout
        with self._seen:
            while True:
                got = self.events[since:]
                for i, ev in enumerate(got):
                    if ev.event_id == marker:
                        return got[:i]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._seen.wait(left)


def run(cases: int, seed: int = 1, case_timeout: float = 10.0,
        categories: Sequence[str] | None = None) -> FuzzRun:
    """Play ``cases`` malformed answers (each followed by a good one)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible fuzzing, not secrets
    names = list(categories or CATEGORIES)
    weights = [WEIGHTS.get(n, 10) for n in names]
    result = FuzzRun()
    saved_limits = feedguard.LIMITS
    feedguard.LIMITS = feedguard.FeedLimits(max_bytes=FUZZ_MAX_BYTES,
                                            max_depth=saved_limits.max_depth)
    capture = _Capture()
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    tmp = tempfile.TemporaryDirectory(prefix="fuzz-feed-")
    marker = f"XXE-MARKER-{secrets.token_hex(12)}"
    marker_file = Path(tmp.name) / "secret.txt"
    marker_file.write_text(marker + "\n", encoding="utf-8")
    harness = _Harness(case_timeout)
    started = time.monotonic()
    try:
        harness.start()
        if not harness.source.first_read.wait(10):
            result.fail("the source never read the scripted feed")
        capture.take()
        for index in range(cases):
            category = rng.choices(names, weights)[0]
            _one(harness, capture, result, rng, category, index, marker, marker_file)
    finally:
        harness.stop()
        root.removeHandler(capture)
        root.setLevel(saved_level)
        feedguard.LIMITS = saved_limits
        tmp.cleanup()
    result.seconds = time.monotonic() - started
    result.crashes += len(harness.batch_errors)
    return result


def _one(harness: _Harness, capture: _Capture, result: FuzzRun, rng: random.Random,
         category: str, index: int, marker: str, marker_file: Path) -> None:
    case = make_case(rng, category, marker_file)
    result.cases += 1
    result.by_category[category] += 1
    tag = f"marker-{index}"
    good = feed([_entry("MODIFY_URI", lpar_uri(_uuid(rng)), "PartitionState", eid=tag)])
    before_errors = harness.errors()
    since = len(harness.events)
    t0 = time.monotonic()
    harness.server.answers.put(case)
    harness.server.answers.put(Case("marker", good, OK))
    got = harness.wait_marker(tag, since)
    took = time.monotonic() - t0
    result.max_case_seconds = max(result.max_case_seconds, took)
    what = f"case {index} {category} ({case.body[:60]!r})"
    if got is None:
        alive = harness.source._thread is not None and harness.source._thread.is_alive()
        if alive:
            result.hangs += 1
            result.fail(f"{what}: no marker within {harness.case_timeout} s")
        else:
            result.crashes += 1
            result.fail(f"{what}: the feed thread died")
            raise RuntimeError(f"feed thread died at {what}")
        return
    result.markers_processed += 1
    errors = harness.errors() - before_errors
    records = capture.take()
    # pypowervm warns at every logon over plain HTTP (the harness's choice).
    # The engine warns once per distinct unknown EventType (its own counted log).
    warnings = [r for r in records if r.levelno >= logging.WARNING
                and not str(r.msg).startswith("Unencrypted communication")
                and not str(r.msg).startswith("Unknown NovaLink event type")]
    if errors:
        result.refused[category] += 1
    expected = {ERROR: (1,), OK: (0,), EMPTY: (0,), EITHER: (0, 1)}[case.expect]
    if errors not in expected:
        result.miscounted += 1
        result.fail(f"{what}: source_errors_total +{errors:g}, expected {case.expect}"
                    f"{' (' + warnings[0].getMessage()[:150] + ')' if warnings else ''}")
    if len(warnings) != errors or any(r.name != "lpar_eventd.sources.novalink"
                                      for r in warnings):
        result.log_violations += 1
        result.fail(f"{what}: {errors:g} errors but warnings "
                    f"{[(r.name, r.getMessage()[:120]) for r in warnings]}")
    for r in warnings:
        result.reasons[_reason(r)] += 1
    if case.expect == EMPTY and got:
        result.miscounted += 1
        result.fail(f"{what}: {len(got)} events from an answer that has none")
    if case.expect == OK and not errors and category != "missing_fields":
        _check_uris(result, got, what)
    if True:  # every case: the marker must never show, whatever the category
        texts = [f"{e.raw_type} {e.data} {' '.join(e.details)} {e.event_id}" for e in got]
        texts += [_safe_message(r) for r in records]
        if any(marker in t for t in texts):
            result.marker_leaks += 1
            result.fail(f"{what}: the external entity was resolved")


def _check_uris(result: FuzzRun, got: list[Event], what: str) -> None:
    """An event may name an LPAR only when its URI really ends in one."""
    for ev in got:
        if ev.lpar_uuid is None:
            continue
        path = ev.data.split("?", 1)[0].rstrip("/")
        tail = path.rsplit("/", 2)
        try:
            ok = (tail[-2] == "LogicalPartition"
                  and str(uuidlib.UUID(tail[-1])).upper() == ev.lpar_uuid
                  and len(tail[-1]) == 36 and tail[-1].isascii())
        except ValueError:
            ok = False
        if not ok or parse_lpar_uuid(ev.data) != ev.lpar_uuid:
            result.false_lpars += 1
            result.fail(f"{what}: {ev.data[:100]!r} taken for LPAR {ev.lpar_uuid}")


def _safe_message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a third-party record with bad args: still searched raw
        return f"{record.msg} {record.args}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lpar_eventd.scale.fuzz_feed",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--case-timeout", type=float, default=10.0)
    parser.add_argument("--category", action="append", choices=sorted(CATEGORIES),
                        help="only these categories (repeatable)")
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be >= 1")
    result = run(args.cases, args.seed, args.case_timeout, args.category)
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
