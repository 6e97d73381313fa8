"""lpar-eventd-scale report: Grafana's variables filled in as Grafana would,
and the whole report written from a canned Prometheus HTTP API."""

from __future__ import annotations

import json
import threading
import urllib.parse
from argparse import ArgumentParser, Namespace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lpar_eventd.scale import promreport
from tests.unit.deploy.contract import DASHBOARD_JSON


def test_rate_interval_follows_grafana():
    w = promreport.Window(start=0, end=3600, scrape_interval=15)
    assert w.step == 15
    assert w.rate_interval == 60  # 4 x scrape interval
    wide = promreport.Window(start=0, end=86400, scrape_interval=15)
    assert wide.step == 144 and wide.rate_interval == 159


def test_substitute_replaces_every_grafana_variable():
    w = promreport.Window(start=0, end=600, scrape_interval=1, instance="nl1:.*")
    expr = ('rate(x{instance=~"$instance"}[$__rate_interval]) '
            '+ increase(x{instance=~"${instance}"}[$__range])')
    assert promreport.substitute(expr, w) == (
        'rate(x{instance=~"nl1:.*"}[4s]) + increase(x{instance=~"nl1:.*"}[600s])')


def test_legend_and_values():
    assert promreport.legend("{{type}} on {{instance}}", {"type": "modify",
                             "instance": "nl1"}, "x") == "modify on nl1"
    assert promreport.legend("", {"__name__": "m", "a": "1"}, "x") == '{a="1"}'
    assert promreport.format_value(0.671, "percentunit") == "67.1%"
    assert promreport.format_value(38.21, "suffix:x") == "38.2x"
    assert promreport.format_value(float("nan"), "short") == "no data"


def test_parse_duration():
    assert promreport.parse_duration("90") == 90
    assert promreport.parse_duration("15m") == 900
    with pytest.raises(Exception, match="not a duration"):
        promreport.parse_duration("soon")


class _CannedPrometheus(BaseHTTPRequestHandler):
    """Answers every query with two series, so every panel has something to draw."""

    queries: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        url = urllib.parse.urlparse(self.path)
        params = urllib.parse.parse_qs(url.query)
        type(self).queries.append(params["query"][0])
        if url.path == "/api/v1/query":
            result = [{"metric": {}, "value": [100, "12.5"]}]
            data = {"resultType": "vector", "result": result}
        else:
            start, end = float(params["start"][0]), float(params["end"][0])
            values = [[start + i, str(i % 7)] for i in range(int(end - start))]
            result = [{"metric": {"instance": "nl1", "le": "15"}, "values": values},
                      {"metric": {"instance": "nl2", "le": "+Inf"}, "values": values}]
            data = {"resultType": "matrix", "result": result}
        body = json.dumps({"status": "success", "data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def canned_prometheus():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CannedPrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _args(url: str, out: Path, **kwargs) -> Namespace:
    parser = ArgumentParser()
    promreport.add_parser(parser.add_subparsers(dest="command"))
    argv = ["report", "--prometheus", url, "--out", str(out), "--since", "5m",
            "--end", "1800000000", "--scrape-interval", "1s"]
    for key, value in kwargs.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return parser.parse_args(argv)


def test_report_writes_a_png_per_panel_and_an_index(canned_prometheus, tmp_path, capsys):
    args = _args(canned_prometheus, tmp_path / "out")
    assert args.func is promreport.run
    assert promreport.run(args) == 0
    dashboard = json.loads(DASHBOARD_JSON.read_text())
    drawable = [p for p in dashboard["panels"] if p["type"] not in ("row", "stat")]
    pngs = sorted((tmp_path / "out").glob("*.png"))
    assert len(pngs) == len(drawable) + 1  # + the overview of the stat panels
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    index = (tmp_path / "out" / "index.html").read_text()
    for png in pngs:
        assert f'src="{png.name}"' in index
    assert "$__rate_interval" not in " ".join(_CannedPrometheus.queries)
    assert "wrote" in capsys.readouterr().out


def test_unreachable_prometheus_is_one_clear_error(tmp_path, capsys):
    args = _args("http://127.0.0.1:9", tmp_path / "out")
    assert promreport.run(args) == 1
    assert "cannot reach Prometheus" in capsys.readouterr().err


def test_missing_dashboard_is_a_usage_error(tmp_path, capsys):
    args = _args("http://127.0.0.1:9", tmp_path / "out", dashboard=tmp_path / "nope.json")
    assert promreport.run(args) == 2
    assert "--dashboard" in capsys.readouterr().err
