"""The log sink: one structured line per event."""

from __future__ import annotations

import logging

from lpar_eventd.engine.ports import Transition
from lpar_eventd.sinks.log import LogSink
from tests.unit.sinks.events import INSTANCE, LPAR, lifecycle


class TestLogSink:
    def test_one_line_with_fields(self, caplog):
        caplog.set_level(logging.INFO, logger="lpar_eventd.lifecycle")
        sink = LogSink(wall=lambda: 1_700_000_000.0)
        sink.emit(lifecycle(Transition.STOPPED, "not activated"))
        [record] = caplog.records
        assert record.getMessage() == (
            f"lifecycle transition=stopped instance={INSTANCE} lpar={LPAR} "
            "state=not_activated delay=15.2s")
        fields = record.lpar_eventd
        assert fields["transition"] == "stopped" and fields["pvm_uuid"] == LPAR
        assert fields["decided_time"].startswith("2023-11-14T22:13:20")
        assert fields["settle_delay_seconds"] == 15.25
        assert sink.emitted == 1

    def test_custom_logger_and_level(self, caplog):
        logger = logging.getLogger("test.sink")
        caplog.set_level(logging.DEBUG, logger="test.sink")
        LogSink(logger, logging.WARNING).emit(lifecycle())
        assert caplog.records[0].levelno == logging.WARNING
