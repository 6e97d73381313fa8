"""``lpar-eventd-scale bench-delivery`` runs end to end and reports what it measured
(a smoke run on the test's own broker: figures are printed, never asserted)."""

from __future__ import annotations

import json

import pytest

from lpar_eventd.scale import bench_delivery

pytestmark = pytest.mark.slow


def test_bench_delivery_counts_every_decision(rabbitmq, tmp_path, capsys):
    out = tmp_path / "delivery.json"
    assert bench_delivery.main(["--messages", "60", "--rate", "0", "--instances", "7",
                                "--url", rabbitmq.url, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert (result["messages"], result["received"], result["durable"]) == (60, 60, True)
    assert set(result["latency_ms"]) == {"p50", "p90", "p99", "max"}
    assert "decision -> emit_event returned:  p50" in capsys.readouterr().out


def test_a_negative_rate_is_one_clear_error(capsys):
    assert bench_delivery.main(["--rate", "-1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
