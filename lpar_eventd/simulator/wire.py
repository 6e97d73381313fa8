"""NovaLink wire format: the XML and JSON bodies the simulator sends.

Everything a client parses comes from here, as small string templates shaped
after the real captures in ``shared/novalink-wire`` (event.xml, logon.xml,
logon_file.xml, fake_httperror*.txt, lpar.txt). Only what pypowervm's wrappers
read is rendered: a template that drifts from the captures is caught by the
tests that parse every body with the real pypowervm.

Event entries are rendered once, when the event is produced, and shared by
every application-id queue: a feed response is then a join of ready bytes,
which is what keeps the simulator well above pypowervm's parse rate.

    body = event_feed(base, [render_event(base, ev) for ev in events])
"""

from __future__ import annotations

import datetime as dt
import json
import uuid as uuidlib
from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape

__all__ = ["ATOM_XML", "JSON", "WEB_NS", "UOM_NS", "FeedEvent", "render_event",
           "event_feed", "logon_response", "logon_file_response", "http_error",
           "lpar_entry", "lpar_feed", "vios_entry", "ms_entry", "feed",
           "quick_json", "now_iso", "GENERATOR"]

ATOM_XML = "application/atom+xml"
JSON = "application/json"
WEB_NS = "http://www.ibm.com/xmlns/systems/power/firmware/web/mc/2012_10/"
UOM_NS = "http://www.ibm.com/xmlns/systems/power/firmware/uom/mc/2012_10/"
GENERATOR = "IBM Power Systems Management Console"
# A fixed console uuid, as a real NovaLink has one per install.
CONSOLE_UUID = "64cff7a6-b6be-3bd7-b795-92d09c75b536"


_last_iso: tuple[int, str] = (-1, "")


def now_iso() -> str:
    """Atom timestamps as NovaLink writes them (milliseconds, UTC); formatted
    once per millisecond, since a burst renders thousands per millisecond."""
    global _last_iso
    now = dt.datetime.now(dt.UTC)
    stamp = int(now.timestamp() * 1000)
    if stamp != _last_iso[0]:
        text = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
        _last_iso = (stamp, text)
    return _last_iso[1]


def _uuid_for(number: int) -> str:
    """A stable uuid for a sequence number (cheaper than uuid4, reproducible)."""
    return str(uuidlib.UUID(int=number & ((1 << 128) - 1)))


# -- events ------------------------------------------------------------------
class FeedEvent:
    """One produced event with its entry already rendered (shared, immutable)."""

    __slots__ = ("event_type", "event_id", "data", "detail", "xml")

    def __init__(self, event_type: str, event_id: int, data: str, detail: str,
                 xml: bytes):
        self.event_type = event_type
        self.event_id = event_id
        self.data = data
        self.detail = detail
        self.xml = xml

    def __repr__(self) -> str:
        return (f"FeedEvent({self.event_type}, {self.event_id}, {self.data!r}, "
                f"{self.detail!r})")


_EVENT_ENTRY = """    <entry>
        <id>{atom_id}</id>
        <title>Event</title>
        <published>{published}</published>
        <link rel="SELF" href="{base}/rest/api/uom/Event/{atom_id}"/>
        <author>
            <name>{generator}</name>
        </author>
        <etag:etag xmlns:etag="{uom}" xmlns="{uom}">{eid}</etag:etag>
        <content type="application/vnd.ibm.powervm.uom+xml; type=Event">
            <Event:Event xmlns:Event="{uom}" xmlns="{uom}" schemaVersion="V1_1_0">
                <Metadata>
                    <Atom>
                        <AtomID>{atom_id}</AtomID>
                        <AtomCreated>{created}</AtomCreated>
                    </Atom>
                </Metadata>
                <EventType kb="ROR" kxe="false">{etype}</EventType>
                <EventID kxe="false" kb="ROR">{eid}</EventID>
                {data}
                {detail}
            </Event:Event>
        </content>
    </entry>
"""


def _text_el(tag: str, value: str) -> str:
    if not value:
        return f'<{tag} kxe="false" kb="ROR"/>'
    return f'<{tag} kxe="false" kb="ROR">{escape(value)}</{tag}>'


def render_event(base: str, event_type: str, event_id: int, data: str,
                 detail: str, created_ms: int) -> FeedEvent:
    """Render one Event entry (event.xml shape); ``data`` is the full URI or ''."""
    atom_id = _uuid_for(event_id)
    xml = _EVENT_ENTRY.format(
        atom_id=atom_id, published=now_iso(), base=base, generator=GENERATOR,
        uom=UOM_NS, eid=event_id, created=created_ms, etype=escape(event_type),
        data=_text_el("EventData", data), detail=_text_el("EventDetail", detail))
    return FeedEvent(event_type, event_id, data, detail, xml.encode())


_FEED_HEAD = """<feed xmlns="http://www.w3.org/2005/Atom" \
xmlns:ns2="http://a9.com/-/spec/opensearch/1.1/" xmlns:ns3="http://www.w3.org/1999/xhtml">
    <id>{feed_id}</id>
    <updated>{updated}</updated>
    <link rel="SELF" href="{base}{path}"/>
    <link rel="MANAGEMENT_CONSOLE" href="{base}/rest/api/uom/ManagementConsole/{console}"/>
    <generator>{generator}</generator>
"""
_FEED_TAIL = b"</feed>\n"


def _feed_head(base: str, path: str) -> bytes:
    return _FEED_HEAD.format(feed_id=str(uuidlib.uuid4()), updated=now_iso(),
                             base=base, path=path, console=CONSOLE_UUID,
                             generator=GENERATOR).encode()


def event_feed(base: str, events: Iterable[FeedEvent]) -> bytes:
    """An Atom feed of ready Event entries."""
    return b"".join([_feed_head(base, "/rest/api/uom/Event"),
                     *(e.xml for e in events), _FEED_TAIL])


def feed(base: str, path: str, entries: Iterable[str]) -> bytes:
    """An Atom feed of rendered entries (LPARs, VIOS, the managed system)."""
    body = "".join(entries).encode()
    return b"".join([_feed_head(base, path), body, _FEED_TAIL])


# -- logon -------------------------------------------------------------------
_LOGON = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<LogonResponse xmlns="{web}" schemaVersion="V1_1_0">
    <Metadata>
        <Atom/>
    </Metadata>
    <{tag} kb="ROR" kxe="false">{value}</{tag}>
</LogonResponse>
"""


def logon_response(token: str) -> bytes:
    """Password logon answer (logon.xml): the token itself."""
    return _LOGON.format(web=WEB_NS, tag="X-API-Session",
                         value=escape(token)).encode()


def logon_file_response(path: str) -> bytes:
    """Local file-auth answer (logon_file.xml): where the token was written."""
    return _LOGON.format(web=WEB_NS, tag="X-API-SessionFile",
                         value=escape(path)).encode()


# -- errors ------------------------------------------------------------------
_HTTP_ERROR = """<entry xmlns="http://www.w3.org/2005/Atom" \
xmlns:ns2="http://a9.com/-/spec/opensearch/1.1/" xmlns:ns3="http://www.w3.org/1999/xhtml">
    <id>{atom_id}</id>
    <title>HttpErrorResponse</title>
    <published>{published}</published>
    <author>
        <name>{generator}</name>
    </author>
    <content type="application/vnd.ibm.powervm.web+xml; type=HttpErrorResponse">
        <HttpErrorResponse:HttpErrorResponse xmlns:HttpErrorResponse="{web}" \
xmlns="{web}" xmlns:ns2="http://www.w3.org/XML/1998/namespace/k2" schemaVersion="V1_2_0">
    <Metadata>
        <Atom/>
    </Metadata>
    <HTTPStatus kb="ROR" kxe="false">{status}</HTTPStatus>
    <RequestURI kb="ROR" kxe="false">{uri}</RequestURI>
    <ReasonCode kb="ROR" kxe="false">{reason}</ReasonCode>
    <Message kb="ROO" kxe="false">{message}</Message>
    <RequestBody kb="ROO" kxe="false"/>
    <RequestHeaders kb="ROO" kxe="false"/>
</HttpErrorResponse:HttpErrorResponse>
    </content>
</entry>
"""


def http_error(status: int, uri: str, message: str,
               reason: str = "Unknown internal error.") -> bytes:
    """The HttpErrorResponse entry NovaLink sends with every 4xx/5xx."""
    return _HTTP_ERROR.format(
        atom_id=str(uuidlib.uuid4()), published=now_iso(), generator=GENERATOR,
        web=WEB_NS, status=status, uri=escape(uri), reason=escape(reason),
        message=escape(message)).encode()


# -- partitions --------------------------------------------------------------
_ENTRY = """    <entry>
        <id>{uuid}</id>
        <title>{kind}</title>
        <published>{published}</published>
        <link rel="SELF" href="{href}"/>
        <author>
            <name>{generator}</name>
        </author>
        <etag:etag xmlns:etag="{uom}" xmlns="{uom}">{etag}</etag:etag>
        <content type="application/vnd.ibm.powervm.uom+xml; type={kind}">
            <{kind}:{kind} xmlns:{kind}="{uom}" xmlns="{uom}" \
xmlns:ns2="http://www.w3.org/XML/1998/namespace/k2" schemaVersion="V1_0">
    <Metadata>
        <Atom>
            <AtomID>{uuid}</AtomID>
            <AtomCreated>{created}</AtomCreated>
        </Atom>
    </Metadata>
{body}</{kind}:{kind}>
        </content>
    </entry>
"""

_PARTITION_BODY = """\
    <IsOperationInProgress kb="ROR" kxe="false">false</IsOperationInProgress>
    <OperatingSystemVersion kb="CUD" kxe="false">{os}</OperatingSystemVersion>
    <PartitionID kb="COD" kxe="false">{pid}</PartitionID>
    <PartitionMemoryConfiguration kb="CUD" kxe="false" schemaVersion="V1_0">
        <Metadata>
            <Atom/>
        </Metadata>
        <DesiredMemory kb="CUD" kxe="false">{memory}</DesiredMemory>
        <CurrentMemory kb="ROR" kxe="false">{memory}</CurrentMemory>
    </PartitionMemoryConfiguration>
    <PartitionName kb="CUR" kxe="false">{name}</PartitionName>
    <PartitionState kb="ROO" kxe="false">{state}</PartitionState>
    <PartitionType kb="COD" kxe="false">{ptype}</PartitionType>
    <PartitionUUID kb="ROO" kxe="false">{uuid}</PartitionUUID>
    <ResourceMonitoringControlState kb="ROR" kxe="false">{rmc}</ResourceMonitoringControlState>
    <AssociatedManagedSystem kb="CUD" kxe="false" href="{base}/rest/api/uom/ManagedSystem/{ms}" \
rel="related"/>
    <ReferenceCode kb="ROO" kxe="true">{refcode}</ReferenceCode>
{extra}"""

_NVRAM = '    <PartitionNVRAM kb="CUD" kxe="false" group="NVRAM">{}</PartitionNVRAM>\n'


def _entry(kind: str, uuid: str, href: str, etag: str, body: str) -> str:
    return _ENTRY.format(uuid=uuid, kind=kind, published=now_iso(), href=href,
                         generator=GENERATOR, uom=UOM_NS, etag=etag,
                         created=0, body=body)


def _partition(kind: str, base: str, href: str, part: Mapping[str, object],
               extra: str = "") -> str:
    body = _PARTITION_BODY.format(
        os=escape(str(part["os"])), pid=part["id"], memory=part["memory"],
        name=escape(str(part["name"])), state=escape(str(part["state"])),
        ptype=escape(str(part["type"])), uuid=part["uuid"], rmc=part["rmc"],
        base=base, ms=part["ms"], refcode=escape(str(part["refcode"])),
        extra=extra)
    return _entry(kind, str(part["uuid"]), href, str(part["etag"]), body)


def lpar_entry(base: str, href: str, part: Mapping[str, object],
               nvram: str | None = None) -> str:
    """A LogicalPartition entry (lpar.txt shape, minimal); NVRAM only if asked."""
    extra = _NVRAM.format(escape(nvram)) if nvram is not None else ""
    return _partition("LogicalPartition", base, href, part, extra)


def lpar_feed(base: str, path: str, entries: Iterable[str]) -> bytes:
    return feed(base, path, entries)


def vios_entry(base: str, href: str, part: Mapping[str, object]) -> str:
    """A VirtualIOServer entry: the partition fields, typed as a VIOS."""
    return _partition("VirtualIOServer", base, href, part)


_MS_BODY = """\
    <SystemName kb="CUR" kxe="false">{name}</SystemName>
    <State kb="ROR" kxe="false">operating</State>
"""


def ms_entry(base: str, ms_uuid: str, name: str) -> str:
    """The managed system, enough for Adapter.sys_uuid."""
    href = f"{base}/rest/api/uom/ManagedSystem/{ms_uuid}"
    return _entry("ManagedSystem", ms_uuid, href, "0",
                  _MS_BODY.format(name=escape(name)))


def quick_json(value: object) -> bytes:
    """A quick property: a bare JSON value (string, number or object)."""
    return json.dumps(value).encode()

