"""The witness counts what nova says it did, from nova's own log records."""

import logging
import threading

import pytest

from lpar_eventd.testbed.witness import PowerCall, Witness, classify, read_journal


def test_nova_templates_are_classified():
    assert classify("VM %(state)s (Lifecycle Event)") == "received"
    assert classify("Instance is not stopped. Calling the stop API. ...") == "force_stop"
    assert classify("Instance shutdown by itself. Calling the stop API. ...") == "stop"
    assert classify("Something else") is None and classify(None) is None


def log(message: str, instance: str = "u1") -> None:
    logging.getLogger("nova.compute.manager").debug(message, extra={"instance_uuid": instance})


@pytest.fixture
def witness():
    listening = Witness().install(keep_debug=True)
    yield listening
    listening.uninstall()


def test_an_event_without_nova_syncing_is_stale_and_periodic_lines_are_kept_apart(witness):
    with witness.handling("u1", "Stopped"):
        log("VM %(state)s (Lifecycle Event)")
    with witness.handling("u2", "Stopped"):
        log("VM %(state)s (Lifecycle Event)", "u2")
        log("Synchronizing instance power state after lifecycle event", "u2")
        log("Instance shutdown by itself. Calling the stop API", "u2")
    thread = threading.Thread(target=log, args=("Instance is not stopped. Calling the "
                                                "stop API", "u3"))
    thread.start()
    thread.join()
    witness.power_call(PowerCall(0.0, "power_off", "u3", "stopped", "powering-off", True))
    snap = witness.snapshot()
    assert [e["outcome"] for e in snap["events"]] == ["stale", "synced"]
    assert snap["events"][1]["said"][-1] == "stop"
    assert snap["periodic"][0]["said"] == "force_stop"
    assert snap["calls"][0]["kind"] == "force_stop"


def test_the_journal_keeps_what_nova_did_across_restarts(tmp_path):
    journal = tmp_path / "witness.jsonl"
    first = Witness(journal).install(keep_debug=True)
    try:
        with first.handling("u1", "Stopped"):
            log("VM %(state)s (Lifecycle Event)")
        first.power_call(PowerCall(1.0, "power_off", "u1", "active", "powering-off", False))
    finally:
        first.uninstall()
    with journal.open("a") as fh:
        fh.write('{"record": "call", "at": 2.0, "op"')      # killed mid-line
    second = Witness(journal)
    second.power_call(PowerCall(3.0, "power_off", "u2", "stopped", "powering-off", True))
    read = read_journal(journal)
    assert [e["outcome"] for e in read["events"]] == ["stale"]
    assert [(c["instance"], c["kind"]) for c in read["calls"]] == [("u1", "stop"),
                                                                   ("u2", "force_stop")]
