"""``lpar-eventd-sim``: run the NovaLink simulator, or record a feed.

    lpar-eventd-sim [--host 127.0.0.1] [--port 12080] [--https-port 12443]
                    [--scenario mixed --lpars 500 --speed 10 --seed 1]
                    [--replay events.jsonl] [--user hscroot --password abc123]
    lpar-eventd-sim record --host novalink.example --user U --password P --out FILE

The simulator runs until SIGTERM or SIGINT; drive it further through the
control API (``/sim/...``, loopback only; see simulator.control).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from pypowervm import exceptions as pvm_exc

from lpar_eventd import __version__

__all__ = ["main", "build_parser"]

LOG = logging.getLogger("lpar_eventd.sim")


class UsageError(ValueError):
    """A bad argument found before anything starts: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {value!r}")
    return number


def _number(kind: type, minimum: float, strict: bool = False) -> Any:
    """An argparse type: ``kind`` (int or float) at least (or above) ``minimum``."""
    def convert(value: str) -> Any:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
        if number != number or number < minimum or (strict and number == minimum):
            raise argparse.ArgumentTypeError(
                f"must be {'>' if strict else '>='} {minimum:g}: {value!r}")
        return number
    return convert


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    p.add_argument("--port", type=_port, default=12080, help="HTTP port; 0 picks a free one")
    p.add_argument("--no-http", action="store_true", help="serve HTTPS only")
    p.add_argument("--https-port", type=_port, default=None,
                   help="also serve HTTPS on this port (NovaLink: 12443)")
    p.add_argument("--cert", help="PEM server certificate (default: generate one)")
    p.add_argument("--key", help="PEM server key")
    p.add_argument("--user", default="hscroot")
    p.add_argument("--password", default="abc123")
    p.add_argument("--scenario", help="play this scenario at start (see scale.scenarios)")
    p.add_argument("--lpars", type=_number(int, 1), default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--speed", type=_number(float, 0, strict=True), default=1.0,
                   help="time compression factor")
    p.add_argument("--replay", help="play this JSON-lines event log at start")
    p.add_argument("--long-poll", type=_number(float, 0), default=10.0,
                   help="seconds an empty event read waits before 204")
    p.add_argument("--max-events-per-response", type=_number(int, 1), default=100)
    p.add_argument("--max-queue", type=_number(int, 1), default=10_000,
                   help="events queued per client before MISSING_EVENTS")
    p.add_argument("--token-ttl", type=_number(float, 0, strict=True), default=None)


def _record_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=_port, default=None)
    p.add_argument("--protocol", choices=("http", "https"), default=None)
    p.add_argument("--user", default=None)
    p.add_argument("--password", default=None, help="omit for local file auth")
    p.add_argument("--certpath", default="/etc/ssl/certs/")
    p.add_argument("--out", required=True, help="JSON-lines file to append to")
    p.add_argument("--states", action="store_true",
                   help="read each LPAR's state after a PartitionState event")
    p.add_argument("--duration", type=_number(float, 0, strict=True), default=None,
                   help="stop after N seconds")
    p.add_argument("--max-events", type=_number(int, 1), default=None)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lpar-eventd-sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _serve_args(parser)
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def build_record_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lpar-eventd-sim record",
                                     description="Record a NovaLink event feed.")
    _record_args(parser)
    return parser


def _wait_for_signal(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while not stop.wait(0.5):
        pass


def _tls(args: argparse.Namespace) -> tuple[str | None, str | None]:
    if args.https_port is None or (args.cert and args.key):
        return args.cert, args.key
    from lpar_eventd.simulator.tls import make_test_pki

    files = make_test_pki(Path(tempfile.mkdtemp(prefix="lpar-eventd-sim-tls-")),
                          hosts=(args.host, "localhost"))
    LOG.warning("generated a self-signed CA for HTTPS: trust %s", files.ca)
    return str(files.cert), str(files.key)


def _check_serve(args: argparse.Namespace) -> Any:
    """Everything that can be wrong with the arguments, before anything starts;
    returns the replay events (read once, here)."""
    import ipaddress
    import socket

    from lpar_eventd.scale.scenarios import SCENARIOS
    from lpar_eventd.simulator.replay import ReplayFormatError, read_jsonl

    if args.no_http and args.https_port is None:
        raise UsageError("--no-http needs --https-port")
    if bool(args.cert) != bool(args.key):
        raise UsageError("--cert and --key go together")
    for option, path in (("--cert", args.cert), ("--key", args.key)):
        if path and not os.access(path, os.R_OK):
            raise UsageError(f"{option} {path}: not a readable file")
    if args.scenario and args.scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {args.scenario!r}; choose from "
                         f"{', '.join(sorted(SCENARIOS))}")
    try:
        ipaddress.ip_address(args.host)
    except ValueError:
        try:
            socket.getaddrinfo(args.host, None)
        except OSError:
            raise UsageError(f"--host {args.host}: not an address or a known "
                             "host name") from None
    if not args.replay:
        return None
    try:
        return read_jsonl(args.replay)
    except OSError as exc:
        raise UsageError(f"--replay {args.replay}: {exc.strerror}") from None
    except ReplayFormatError as exc:
        raise UsageError(f"--replay {args.replay}: {exc}") from None


def serve(args: argparse.Namespace) -> int:
    from lpar_eventd.scale.scenarios import build
    from lpar_eventd.simulator.config import SimConfig
    from lpar_eventd.simulator.server import Simulator

    replay = _check_serve(args)
    certfile, keyfile = _tls(args)
    config = SimConfig(
        host=args.host, port=None if args.no_http else args.port,
        https_port=args.https_port, certfile=certfile, keyfile=keyfile,
        users={args.user: args.password}, long_poll=args.long_poll,
        max_events_per_response=args.max_events_per_response,
        max_queue=args.max_queue, speed=args.speed, seed=args.seed,
        token_ttl=args.token_ttl)
    sim = Simulator(config).start()
    try:
        LOG.info("NovaLink simulator: http port %s, https port %s, events name %s",
                 sim.http_port, sim.https_port, sim.base_url)
        if args.scenario:
            sim.play(build(args.scenario, args.lpars, args.seed), args.speed)
        if replay is not None:
            sim.replay(replay, args.speed)
        _wait_for_signal(threading.Event())
    finally:
        sim.stop()
    return 0


def record(args: argparse.Namespace) -> int:
    from pypowervm import adapter as pvm_adapter

    from lpar_eventd.simulator.record import Recorder

    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.access(out_dir, os.W_OK):
        raise UsageError(f"--out {args.out}: directory {out_dir} is not writable")

    session = pvm_adapter.Session(host=args.host, username=args.user,
                                  password=args.password, protocol=args.protocol,
                                  port=args.port, certpath=args.certpath)
    stop = threading.Event()
    with open(args.out, "a", encoding="utf-8") as out:
        rec = Recorder(session, out, states=args.states)
        rec.max_events = args.max_events
        rec.done = stop
        rec.start()
        try:
            if args.duration is not None:
                timer = threading.Timer(args.duration, stop.set)
                timer.daemon = True
                timer.start()
            _wait_for_signal(stop)
        finally:
            rec.stop()
    LOG.info("recorded %d events to %s", rec.count, args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    record_mode = argv[:1] == ["record"]
    prog = "lpar-eventd-sim record" if record_mode else "lpar-eventd-sim"
    try:
        if record_mode:
            return record(build_record_parser().parse_args(argv[1:]))
        return serve(build_parser().parse_args(argv))
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, pvm_exc.Error) as exc:  # the logged boundary
        print(f"{prog}: cannot start: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    """pypowervm's errors carry URLs and pages of detail: the first line only."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
