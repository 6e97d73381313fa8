"""``lpar-eventd demo``: the real daemon on the embedded default, end to end.

It starts the NovaLink simulator on a free loopback port, creates an sqlite
nova database with nova's own schema code and seeds it, writes a config
file and runs the real daemon (``lpar-eventd --config-file``, a separate
process, real pypowervm, log sink plus the embedded nova-compute player),
plays a deploy storm with reboots and flappers at accelerated time with a
progress bar, then prints what the daemon counted (scraped from its
/metrics) next to what each policy makes of the same stream on the
engine's virtual clock, and whether nova ended in agreement with PowerVM.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from collections.abc import Sequence

from prometheus_client.parser import text_string_to_metric_families

from lpar_eventd.scale import oracle, scenarios, virtual

__all__ = ["main", "scrape", "free_port", "write_config", "wait_healthy", "wait_settled"]

USER, PASSWORD = "hscroot", "abc123"
WINDOWS = ("settle_seconds", 15.0), ("max_wait_seconds", 60.0), \
    ("nvram_settle_seconds", 2.0), ("resync_min_interval_seconds", 10.0), \
    ("resync_batch_interval_seconds", 0.5), ("retry_base_seconds", 1.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(path: Path, *, sim_port: int, nova_url: str, metrics_port: int,
                 speed: float, policy_name: str = "default",
                 sinks: str = "log,embedded-compute", extra: str = "",
                 feed_stale: float = 30.0) -> None:
    """A daemon config for the simulator and the embedded nova DB, windows compressed."""
    windows = "\n".join(f"{name} = {value / speed:g}" for name, value in WINDOWS)
    path.write_text(f"""[DEFAULT]
debug = false

[novalink]
host = 127.0.0.1
port = {sim_port}
protocol = http
username = {USER}
password = {PASSWORD}
timeout = 30
feed_stale_seconds = {feed_stale:g}
reconnect_backoff_max_seconds = {30.0 / speed:g}

[events]
policy = {policy_name}
{windows}

[nova]
lookup = database
connection = {nova_url}

[sink]
driver = {sinks}

[metrics]
bind_host = 127.0.0.1
port = {metrics_port}
{extra}""", encoding="utf-8")


def scrape(url: str, timeout: float = 5.0) -> dict[str, float]:
    """Prometheus text exposition -> {'name{label="v"}': value}, as a scraper sees it."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - our own http URL  # nosec B310
        text = resp.read().decode("utf-8")
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


def total(samples: dict[str, float], name: str) -> float:
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


def wait_healthy(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the daemon exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:  # noqa: S310  # nosec B310
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url}/healthz not healthy within {timeout:g} s")


def wait_settled(url: str, timeout: float, quiet: float = 1.5) -> bool:
    """Wait until the daemon at ``url`` has had nothing pending for ``quiet``
    seconds (a settle can re-arm another, so one zero is not enough);
    False when ``timeout`` passed first."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        if scrape(url + "/metrics").get("lpar_eventd_pending_settles", 0.0):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > quiet:
            return True
        time.sleep(0.2)
    return False


class _Progress:
    """A progress bar on a terminal; a line per quarter when piped to a file."""

    def __init__(self, width: int = 40):
        self._width = width
        self._tty = sys.stdout.isatty()
        self._quarter = -1

    def show(self, done: float, label: str) -> None:
        done = min(1.0, max(0.0, done))
        if self._tty:
            filled = int(self._width * done)
            sys.stdout.write(f"\r  [{'#' * filled}{'.' * (self._width - filled)}] "
                             f"{done:4.0%} {label:<32}")
            sys.stdout.flush()
        elif int(done * 4) > self._quarter:
            self._quarter = int(done * 4)
            print(f"  {done:4.0%} {label}")

    def end(self) -> None:
        if self._tty:
            print()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lpar-eventd demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lpars", type=int, default=200, help="instances deployed")
    p.add_argument("--speed", type=float, default=8.0, help="time compression")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true",
                   help="keep the daemon and simulator running until Ctrl-C")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.lpars <= 0 or args.speed <= 0:
        print("lpar-eventd demo: --lpars and --speed must be positive", file=sys.stderr)
        return 2
    from lpar_eventd.nova.compute_player import ComputePlayer
    from lpar_eventd.nova.database import build_sqlite, sqlite_url
    from lpar_eventd.nova.seed import seed_instances, specs_from_scenario
    from lpar_eventd.simulator.config import SimConfig
    from lpar_eventd.simulator.server import Simulator

    work = Path(tempfile.mkdtemp(prefix="lpar-eventd-demo-"))
    scenario = scenarios.build("demo", args.lpars, args.seed)
    print(f"lpar_eventd demo: {args.lpars} instances deployed, "
          f"{len(scenario.host_events())} NovaLink events, x{args.speed:g} speed")
    print(f"  working directory {work}")
    db = build_sqlite(work / "nova.sqlite")
    seed_instances(db, specs_from_scenario(scenario))
    print("  nova database created with nova's own schema code and seeded")
    player = ComputePlayer(db)
    sim = Simulator(SimConfig(port=0, long_poll=1.0)).start()
    proc = None
    try:
        sim.load(scenario)
        metrics_port = free_port()
        conf = work / "lpar-eventd.conf"
        write_config(conf, sim_port=sim.http_port, nova_url=sqlite_url(work / "nova.sqlite"),
                     metrics_port=metrics_port, speed=args.speed)
        log = work / "lpar-eventd.log"
        proc = subprocess.Popen(  # noqa: S603 - our own console script
            [sys.executable, "-m", "lpar_eventd.cmd.daemon", "--config-file", str(conf),
             "--log-file", str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{metrics_port}"
        wait_healthy(url, 60, proc)
        print(f"  simulator on {sim.http_url}, daemon pid {proc.pid}, log {log}")
        _play(sim, scenario, args.speed, player, url)
        samples = scrape(url + "/metrics")
        _report(scenario, samples, sim.lpars(), player)
        print(f"\nmetrics: {url}/metrics   health: {url}/healthz")
        if args.keep:
            print("running until Ctrl-C (--keep)")
            try:
                while proc.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        sim.stop()


def _play(sim, scenario: scenarios.Scenario, speed: float, player, url: str) -> None:
    future = sim.play(scenario, speed=speed, on_nova_change=player.apply_change_retried,
                      load=False)
    duration = scenario.duration / speed
    started = time.monotonic()
    bar = _Progress()
    while not future.done():
        bar.show((time.monotonic() - started) / max(duration, 0.1), "playing the storm")
        time.sleep(0.2)
    future.result()
    bar.show(1.0, "storm played")
    # let the last bursts settle (max-wait is the longest a settle waits)
    wait_settled(url, (60.0 + 30.0) / speed + 10.0)
    bar.end()
    print("  settled")


def _report(scenario: scenarios.Scenario, samples: dict[str, float],
            final_states: dict[str, str], player) -> None:
    bound = virtual.lower_bound(scenario)
    results = [virtual.play(scenario, name) for name in ("default", "reference", "legacy")]
    live = {
        "events received": total(samples, "lpar_eventd_events_received_total"),
        "coalesced": total(samples, "lpar_eventd_events_coalesced_total"),
        "get_instance calls": total(samples, "lpar_eventd_get_instance_calls_total"),
        "NovaLink state reads": total(samples, "lpar_eventd_state_reads_total"),
        "lifecycle events": total(samples, "lpar_eventd_lifecycle_events_emitted_total"),
    }
    for reason in ("not_lpar", "unchanged_state", "task_state", "instance_not_found",
                   "no_transition"):
        live[f"skipped: {reason}"] = samples.get(
            f'lpar_eventd_events_skipped_total{{reason="{reason}"}}', 0.0)
    keys = {"events received": "events_received", "coalesced": "coalesced",
            "get_instance calls": "get_instance_calls",
            "NovaLink state reads": "state_reads", "lifecycle events": "lifecycle_events"}
    header = f"\n{'':26}{'daemon (live)':>15}" + "".join(
        f"{r.policy + ' (sim.)':>17}" for r in results)
    print(header)
    for label, value in live.items():
        key = keys.get(label, "skipped_" + label.removeprefix("skipped: "))
        print(f"{label:26}{value:>15.0f}" + "".join(
            f"{r.figures.get(key, 0):>17.0f}" for r in results))
    print(f"{'final-state mismatches':26}{_mismatches(scenario, final_states, player):>15}"
          + "".join(f"{len(r.mismatches):>17}" for r in results))
    print(f"lower bound of nova calls (bursts in which a managed LPAR's state changed): "
          f"{bound}")
    calls = live["get_instance calls"] or 1
    for r in results[1:]:
        print(f"{r.policy}: {r.figures['get_instance_calls'] / calls:.1f}x the daemon's "
              "get_instance calls")
    print("(sim.) = the same stream through each policy on the engine's virtual clock")


def _mismatches(scenario: scenarios.Scenario, final_states: dict[str, str], player) -> int:
    return len(oracle.nova_mismatches(scenario.managed(), final_states, player))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
