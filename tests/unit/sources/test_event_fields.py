"""Reading an Event entry's fields straight from the tree pypowervm unmarshalled."""

from lxml import etree

from lpar_eventd.sources.novalink import _event_fields

UOM = "http://www.ibm.com/xmlns/systems/power/firmware/uom/mc/2012_10/"


def _event(body: str):
    return etree.fromstring(f'<Event xmlns="{UOM}" schemaVersion="V1_0">{body}</Event>')


def test_the_four_fields_of_a_namespaced_event_are_read_in_one_pass():
    fields = _event_fields(_event(
        "<Metadata><Atom/></Metadata><EventType>MODIFY_URI</EventType>"
        "<EventID>1509</EventID><EventData>https://nl/rest/api/uom/LogicalPartition/X"
        "</EventData><!-- a comment --><EventDetail>PartitionState,Other</EventDetail>"))
    assert fields == {"EventType": "MODIFY_URI", "EventID": "1509",
                      "EventData": "https://nl/rest/api/uom/LogicalPartition/X",
                      "EventDetail": "PartitionState,Other"}


def test_an_empty_or_missing_field_reads_as_none_like_findtext():
    fields = _event_fields(_event("<EventType>NEW_CLIENT</EventType><EventDetail/>"))
    assert fields.get("EventDetail") is None
    assert fields.get("EventData") is None
    assert fields["EventType"] == "NEW_CLIENT"


def test_the_first_of_a_repeated_field_wins_as_with_findtext():
    fields = _event_fields(_event("<EventType>ADD_URI</EventType><EventType>X</EventType>"))
    assert fields["EventType"] == "ADD_URI"
