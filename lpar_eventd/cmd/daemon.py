"""lpar-eventd: the daemon, and its helper commands.

    lpar-eventd --config-file /etc/lpar-eventd/lpar-eventd.conf [--record FILE]
    lpar-eventd demo [--lpars 200] [--keep]
    lpar-eventd seed-nova --sqlite PATH --scenario mixed --lpars 50

The daemon runs in one process on oslo.service's threading backend (no
eventlet): oslo.service's Launcher runs the service in-process; SIGTERM and
SIGINT stop it (DESIGN.md's shutdown), SIGHUP mutates the configuration and
applies the mutable options. A bad option stops start-up with one line on
stderr naming it, and exit status 2.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence

from oslo_config import cfg
from oslo_log import log as oslo_log

from lpar_eventd.cmd import use_threading_backend
from lpar_eventd.conf import opts

RECORD_OPT = cfg.StrOpt("record", metavar="FILE",
                        help="Append every raw feed event received to FILE "
                             "(JSON lines, the simulator's replay format).")


def make_conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    opts.register_all(conf)
    oslo_log.register_options(conf)
    conf.register_cli_opt(RECORD_OPT)
    return conf


def check_values(conf: cfg.ConfigOpts) -> None:
    """Read every option once: oslo.config checks values only when read, and a
    bad one must stop start-up, not a running daemon."""
    for group, options in opts.list_opts():
        for opt in options:
            try:
                getattr(conf[group], opt.dest)
            except (cfg.Error, ValueError) as exc:
                raise cfg.Error(f"[{group}] {opt.name}: {_one_line(exc)}") from None


def run_daemon(argv: Sequence[str]) -> int:
    conf = make_conf()
    try:
        conf(list(argv), project="lpar-eventd", prog="lpar-eventd")
        check_values(conf)
    except (cfg.Error, ValueError) as exc:
        print(f"lpar-eventd: configuration error: {_one_line(exc)}", file=sys.stderr)
        return 2
    oslo_log.setup(conf, "lpar-eventd")
    use_threading_backend()
    from lpar_eventd.service import ConfigError, build, make_service
    try:
        daemon = build(conf, record=conf.record)
    except (ConfigError, cfg.Error) as exc:
        print(f"lpar-eventd: configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"lpar-eventd: cannot start: {exc}", file=sys.stderr)
        return 1
    return _serve(conf, make_service(daemon))


def _serve(conf: cfg.ConfigOpts, service: object) -> int:
    from oslo_service import service as os_service
    launcher = os_service.Launcher(conf, restart_method="mutate")
    stop = threading.Event()
    reload_wanted = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload_wanted.set())
    try:
        service.daemon.server.start()  # type: ignore[attr-defined]
    except OSError as exc:
        print(f"lpar-eventd: cannot serve metrics on {conf.metrics.bind_host}:"
              f"{conf.metrics.port}: {exc.strerror}", file=sys.stderr)
        return 1
    launcher.launch_service(service)
    while not stop.wait(0.2):
        if reload_wanted.is_set():
            reload_wanted.clear()
            launcher.restart()
    launcher.stop()
    return 0


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "demo":
        from lpar_eventd.demo import main as demo_main
        return demo_main(args[1:])
    if args and args[0] == "seed-nova":
        from lpar_eventd.nova.seed import main as seed_main
        return seed_main(args[1:])
    return run_daemon(args)


if __name__ == "__main__":
    sys.exit(main())
