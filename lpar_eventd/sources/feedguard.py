"""Check NovaLink's raw answers before pypowervm parses them.

Why: pypowervm parses every Atom body with lxml's *default* parser and, on
a body it cannot parse, logs the whole body and the request headers at ERROR
before raising. That gives an attacker who controls the answers (a rogue or
broken NovaLink, a man in the middle with ``insecure = true``) three levers:

* entities: lxml's default parser expands internal entities (billion laughs)
  and, before lxml 5, also resolved external ones (XXE: a local file read into
  an event). The libxml2 we ship refuses both, but nothing in setup.cfg pins
  it, so we refuse any DOCTYPE ourselves and parse with a parser that never
  resolves entities, loads a DTD or touches the network;
* size and depth: a huge or deeply nested body costs memory and time in the
  parse and again in pypowervm's wrappers;
* logs: a malformed body would be logged twice (pypowervm's multi-line dump,
  then our loop's warning) and in full.

``check_response`` runs inside our Session's ``request`` -- after the body
arrived, before the Adapter unmarshals it -- and raises ``FeedRejected``
with a one-line reason. The source's loop boundary counts it in
``source_errors_total`` and logs it once; the session is kept (a bad body is
not a bad session). ``harden_thread`` replaces lxml's default parser for the
calling thread (lxml's default parser is per thread), so the parses pypowervm
does on its own -- HttpError bodies of 4xx/5xx answers, the logon answer --
are hardened too.

Limit: requests reads the whole body before we see it; the memory a single
huge answer costs is bounded by what NovaLink sends within the request
timeout, not by ``max_bytes``. ``max_bytes`` bounds everything after that.

    harden_thread()
    check_response(resp, "/rest/api/uom/Event?...", accept="application/atom+xml")
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from lxml import etree
from pypowervm import exceptions as pvm_exc

__all__ = ["FeedLimits", "FeedRejected", "LIMITS", "check_body", "check_response",
           "harden_thread", "hardened_parser"]

ATOM_NS = "http://www.w3.org/2005/Atom"
_FEED = f"{{{ATOM_NS}}}feed"
_ENTRY = f"{{{ATOM_NS}}}entry"
# Markup that declares a DTD or entities; NovaLink never sends either.
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
_DECLARATION_BYTES = re.compile(_DECLARATION.pattern.encode(), re.IGNORECASE)


class FeedRejected(pvm_exc.Error):
    """A NovaLink answer we refuse to parse; ``reason`` is one line, no body."""

    def __init__(self, reason: str, category: str):
        super().__init__(reason)
        self.reason = reason
        self.category = category

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class FeedLimits:
    """Bounds on one answer. Real NovaLink Atom documents nest about 12 deep;
    an event feed of 100 events is ~100 KB, an LPAR feed of 1000 LPARs ~20 MB."""

    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 64


LIMITS = FeedLimits()  # read at each call: a harness may lower it

_local = threading.local()
# An entry (the root or one of the feed's) whose content holds no element.
_EMPTY_ENTRY = etree.XPath(
    "boolean(self::a:entry[not(a:content/*)] | a:entry[not(a:content/*)])",
    namespaces={"a": ATOM_NS})


def hardened_parser() -> etree.XMLParser:
    """pypowervm's parser settings, minus every way to reach outside the body.

    ``huge_tree=False`` keeps libxml2's own caps (nesting 256, text nodes
    10 MB) as a second line behind ``FeedLimits``.
    """
    return etree.XMLParser(strip_cdata=False, encoding="utf-8",
                           resolve_entities=False, no_network=True,
                           load_dtd=False, dtd_validation=False, huge_tree=False)


def harden_thread() -> None:
    """Make lxml's default parser of the calling thread the hardened one (once)."""
    if getattr(_local, "hardened", False):
        return
    etree.set_default_parser(hardened_parser())
    _local.hardened = True


def check_body(body: str | bytes, *, want_atom: bool, want_feed: bool = False,
                limits: FeedLimits | None = None) -> Any:
    """Raise FeedRejected unless ``body`` is small, shallow, DTD-free XML
    (and, with ``want_atom``, a well-formed Atom feed or entry).

    Returns the checked root element (None without ``want_atom``): the
    event feed's reader unmarshals that tree instead of parsing again.
    """
    limits = limits or LIMITS
    if len(body) > limits.max_bytes:
        raise FeedRejected(f"body of {len(body)} bytes exceeds the "
                           f"{limits.max_bytes} byte limit", "too_large")
    pattern = _DECLARATION if isinstance(body, str) else _DECLARATION_BYTES
    match = pattern.search(body)
    if match is not None:
        name = match.group(1)
        name = name.decode("ascii") if isinstance(name, bytes) else name
        raise FeedRejected(f"body declares a {name.upper()} "
                           "(entities are never resolved)", "dtd")
    if not want_atom:
        return None
    try:
        root = etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        if "depth" in str(exc).lower():
            raise FeedRejected(f"XML nested too deep: {_one_line(exc)}",
                               "too_deep") from None
        raise FeedRejected(f"malformed XML: {_one_line(exc)}", "malformed") from None
    if _deeper_than(root, limits.max_depth):
        raise FeedRejected(f"XML nested deeper than {limits.max_depth} levels",
                           "too_deep")
    if root.tag not in (_FEED, _ENTRY):
        raise FeedRejected(f"not an Atom feed or entry (root element "
                           f"{_one_line(root.tag)[:80]})", "not_atom")
    if want_feed and root.tag != _FEED:
        raise FeedRejected("an Atom entry where the event feed was expected", "not_atom")
    if _EMPTY_ENTRY(root):
        # pypowervm would fail on it with an IndexError or AttributeError.
        raise FeedRejected("an Atom entry without content (no object in it)",
                           "no_content")
    return root


def check_response(resp: Any, path: str, accept: str = "") -> Any:
    """Check a pypowervm Response before the Adapter unmarshals it; returns
    the checked Atom root element, or None (no Atom body)."""
    body = getattr(resp, "body", None) or ""
    status = getattr(resp, "status", None)
    want_atom = "atom" in accept
    is_event_feed = "/Event" in path.split("?", 1)[0]
    if status == 200 and not body and is_event_feed:
        raise FeedRejected("HTTP 200 with an empty body (NovaLink answers 204 "
                           "when there is nothing)", "empty_200")
    if not body:
        return None
    return check_body(body, want_atom=want_atom, want_feed=want_atom and is_event_feed)


_DEPTH_XPATH: dict[int, etree.XPath] = {}


def _deeper_than(root: Any, limit: int) -> bool:
    """Whether any element sits more than ``limit`` levels deep (root is 1);
    one XPath in libxml2, no Python loop over the elements."""
    xpath = _DEPTH_XPATH.get(limit)
    if xpath is None:
        xpath = etree.XPath("boolean(" + "/".join(["*"] * limit) + ")")
        _DEPTH_XPATH[limit] = xpath
    return bool(xpath(root))


def _parser() -> etree.XMLParser:
    """One hardened parser per thread (an lxml parser is not thread-safe)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = hardened_parser()
    return parser


def _one_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0][:200] if lines else type(value).__name__
