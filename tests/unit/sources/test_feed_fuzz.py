"""Fuzz the feed path: feedguard, pypowervm's Response parsing, Event.parse.

In-process and fast (no HTTP): what the source does with one answer body,
minus the socket. The 10k-case run over real HTTP is the benchmark
``python -m lpar_eventd.scale.fuzz_feed --cases 10000``; a short run of it is
the last test here.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypowervm import adapter as pvm_adapter

from lpar_eventd.engine.events import Event, EventType, parse_lpar_uuid
from lpar_eventd.scale import fuzz_feed
from lpar_eventd.sources import feedguard, novalink
from lpar_eventd.sources.feedguard import FeedRejected

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
EVENT_PATH = "/rest/api/uom/Event?QUEUE_APPLICATIONID=x"


def read_events(body: str, status: int = 200) -> list[Event]:
    """The source's read of one answer, minus HTTP: guard, unmarshal, parse."""
    resp = pvm_adapter.Response("GET", EVENT_PATH, status, "OK", {}, body=body)
    novalink.guard(resp, EVENT_PATH, novalink.ATOM)
    return novalink.feed_events(resp, 0.0)


def outcome(body: str) -> str | list[Event]:
    """'rejected' (one clear FeedRejected) or the events; anything else raises."""
    try:
        return read_events(body)
    except FeedRejected as exc:
        assert "\n" not in str(exc) and str(exc)
        return "rejected"


xml_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


class TestMutatedFeeds:
    """Whatever the guard lets through, pypowervm and Event.parse handle."""

    @FAST
    @given(st.randoms(use_true_random=False), st.integers(0, 4000), xml_text)
    def test_insert_anything_anywhere(self, rng: random.Random, at: int, junk: str) -> None:
        body = fuzz_feed.good_feed(rng).decode()
        at = at % (len(body) + 1)
        outcome(body[:at] + junk + body[at:])

    @FAST
    @given(st.randoms(use_true_random=False), st.integers(0, 4000))
    def test_truncated(self, rng: random.Random, at: int) -> None:
        body = fuzz_feed.good_feed(rng).decode()
        result = outcome(body[:at % len(body)])
        assert result == "rejected"

    @FAST
    @given(st.binary(max_size=300))
    def test_random_bytes(self, raw: bytes) -> None:
        outcome(raw.decode("utf-8", "replace"))

    @FAST
    @given(etype=st.one_of(st.none(), xml_text), data=st.one_of(st.none(), xml_text),
           detail=st.one_of(st.none(), xml_text), eid=st.one_of(st.none(), xml_text))
    def test_any_field_values(self, etype, data, detail, eid) -> None:
        body = fuzz_feed.feed([fuzz_feed._entry(etype, data, detail, eid)]).decode()
        result = outcome(body)
        if result == "rejected":  # only characters XML forbids make it so
            return
        (event,) = result
        if event.type is EventType.UNKNOWN:
            assert event.type.metric_label == "other"
        if event.lpar_uuid is not None:
            assert str(uuidlib.UUID(event.lpar_uuid)).upper() == event.lpar_uuid


class TestCategories:
    """Every generator of the runner, through the same in-process path."""

    @FAST
    @given(st.randoms(use_true_random=False),
           st.sampled_from(sorted(set(fuzz_feed.CATEGORIES) - {"too_large"})))
    def test_category(self, tmp_path_factory, rng, category) -> None:
        marker_file = tmp_path_factory.getbasetemp() / "xxe-marker.txt"
        marker_file.write_text("XXE-MARKER-unit", encoding="utf-8")
        case = fuzz_feed.make_case(rng, category, marker_file)
        if case.status == 204:  # clients read no body with a 204
            assert read_events("", 204) == []
            return
        body = case.body.decode("utf-8", "replace")
        result = outcome(body)
        if case.expect == fuzz_feed.ERROR:
            assert result == "rejected", category
        elif case.expect == fuzz_feed.OK:
            assert result != "rejected", category
        if result != "rejected":
            for event in result:
                assert "XXE-MARKER" not in f"{event.data} {event.details} {event.raw_type}"


class TestGuard:
    def test_external_entity_is_refused_before_parsing(self, tmp_path: Path) -> None:
        secret = tmp_path / "s.txt"
        secret.write_text("TOPSECRET")
        body = (f'<!DOCTYPE feed [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
                '<feed xmlns="http://www.w3.org/2005/Atom"><id>&x;</id></feed>')
        with pytest.raises(FeedRejected, match="DOCTYPE"):
            read_events(body)

    def test_hardened_parser_never_resolves_even_if_asked_to_parse(self, tmp_path: Path) -> None:
        from lxml import etree
        secret = tmp_path / "s.txt"
        secret.write_text("TOPSECRET")
        body = (f'<!DOCTYPE r [<!ENTITY x SYSTEM "{secret.as_uri()}">]><r>&x;</r>')
        try:
            root = etree.fromstring(body, feedguard.hardened_parser())
        except etree.XMLSyntaxError:
            return
        assert "TOPSECRET" not in etree.tostring(root, encoding="unicode")

    def test_size_limit(self) -> None:
        body = fuzz_feed.feed([]).decode() + " " * 100
        with pytest.raises(FeedRejected, match="exceeds"):
            feedguard.check_body(body, want_atom=True,
                                 limits=feedguard.FeedLimits(max_bytes=50))

    def test_depth_limit(self) -> None:
        inner = "<a>" * 70 + "</a>" * 70
        with pytest.raises(FeedRejected, match="deeper than 64"):
            feedguard.check_body(f'<feed xmlns="{fuzz_feed.ATOM}">{inner}</feed>',
                                 want_atom=True)

    def test_real_feeds_pass(self) -> None:
        from lpar_eventd.simulator import wire
        base = "https://h:12443"
        events = [wire.render_event(base, "MODIFY_URI", i, fuzz_feed.lpar_uri(
            str(uuidlib.UUID(int=i)).upper()), "PartitionState", 0) for i in range(50)]
        got = read_events(wire.event_feed(base, events).decode())
        assert len(got) == 50 and all(e.lpar_uuid for e in got)

    def test_empty_200_is_refused_and_204_is_empty(self) -> None:
        with pytest.raises(FeedRejected, match="empty body"):
            read_events("", 200)
        assert read_events("", 204) == []


@pytest.mark.parametrize("uri", [
    "/rest/api/uom/LogicalPartition/1A2B3C4D-0000-4000-8000-00000000000",
    "/rest/api/uom/LogicalPartition/\u0661A2B3C4D-0000-4000-8000-000000000000",
    "/rest/api/uom/VirtualIOServer/1A2B3C4D-0000-4000-8000-000000000000",
    "/rest/api/uom/LogicalPartition/1A2B3C4D-0000-4000-8000-000000000000/x",
])
def test_bad_uris_are_never_lpars(uri: str) -> None:
    assert parse_lpar_uuid(uri) is None


def test_short_runner_pass() -> None:
    """The benchmark runner itself, a few hundred cases over real HTTP."""
    result = fuzz_feed.run(250, seed=7, case_timeout=5.0)
    assert result.ok, result.summary()
    assert result.cases == result.markers_processed == 250
