"""Parsing feed entries: only LPAR URIs count, nothing is ever fatal."""

import pytest

from lpar_eventd.engine.events import Event, EventType, high_bit_uuid, parse_lpar_uuid

U = "2f7d3c4a-1b2c-4d5e-8f90-a1b2c3d4e5f6"


class TestLparUris:
    @pytest.mark.parametrize("uri", [
        f"https://h:12443/rest/api/uom/ManagedSystem/ab/LogicalPartition/{U.upper()}",
        f"https://h:12443/rest/api/uom/LogicalPartition/{U}",
        f"/rest/api/uom/LogicalPartition/{U}?group=None",
        f"/rest/api/uom/LogicalPartition/{U}/",
    ])
    def test_child_and_root_forms_give_the_upper_case_uuid(self, uri):
        assert parse_lpar_uuid(uri) == U.upper()

    @pytest.mark.parametrize("uri", [
        f"https://h/rest/api/uom/ManagedSystem/ab/VirtualIOServer/{U}",
        "https://h/rest/api/uom/ManagedSystem/ab",
        f"https://h/rest/api/uom/Tier/{U}/LogicalUnit/{U}",
        f"https://h/rest/api/uom/LogicalPartition/{U}/ClientNetworkAdapter/{U}",
        "https://h/rest/api/uom/LogicalPartition/not-a-uuid",
        f"https://h/rest/api/uom/LogicalPartition/{U}0",
        f"https://h/rest/api/uom/LogicalPartition/{U[:-1]}",
        "", None, "\x00\xff garbage",
    ])
    def test_anything_else_is_not_an_lpar(self, uri):
        assert parse_lpar_uuid(uri) is None


class TestEventParse:
    def test_partition_state_with_other_properties(self):
        ev = Event.parse("MODIFY_URI", f"/rest/api/uom/LogicalPartition/{U}",
                         "PartitionState,Other", 5.0, "123")
        assert ev.type is EventType.MODIFY_URI
        assert ev.is_partition_state and not ev.is_nvram
        assert ev.lpar_uuid == U.upper() and ev.received_at == 5.0
        assert ev.event_id == "123"

    def test_detail_may_be_empty_or_spaced(self):
        assert Event.parse("ADD_URI", "x", "", 0).details == frozenset()
        assert Event.parse("MODIFY_URI", "x", " NVRAM , Other ,", 0).details == {"NVRAM", "Other"}

    def test_unknown_and_missing_types_are_unknown_not_fatal(self):
        for raw in ("SOMETHING_NEW", "", None, "modify_uri"):
            ev = Event.parse(raw, None, None, 0)
            assert ev.type is EventType.UNKNOWN
            assert ev.type.metric_label == "other"

    def test_events_that_say_events_were_lost(self):
        lost = {t for t in EventType if t.loses_events}
        assert lost == {EventType.NEW_CLIENT, EventType.CACHE_CLEARED,
                        EventType.MISSING_EVENTS}


def test_high_bit_form_sets_the_first_bit_and_lowers():
    assert high_bit_uuid("2F7D3C4A-1B2C-4D5E-8F90-A1B2C3D4E5F6") == \
        "af7d3c4a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
    assert high_bit_uuid("af7d3c4a-1b2c-4d5e-8f90-a1b2c3d4e5f6") == \
        "af7d3c4a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
