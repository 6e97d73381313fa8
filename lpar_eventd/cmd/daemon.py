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

import argparse
import contextlib
import faulthandler
import io
import logging
import os
import pwd
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import NoReturn

from oslo_config import cfg
from oslo_log import log as oslo_log

from lpar_eventd import __version__
from lpar_eventd.cmd import use_threading_backend
from lpar_eventd.conf import check, opts

RECORD_OPT = cfg.StrOpt("record", metavar="FILE",
                        help="Append every raw feed event received to FILE "
                             "(JSON lines, the simulator's replay format).")


def make_conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    opts.register_all(conf)
    oslo_log.register_options(conf)
    conf.register_cli_opt(RECORD_OPT)
    return conf


# requests lets these override a per-session ``verify`` (the request-level
# setting, taken from the environment, wins over the session's), so with one
# of them set [novalink] ca_file and insecure would be silently ignored.
_CA_BUNDLE_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def honour_tls_options(conf: cfg.ConfigOpts) -> list[str]:
    """Drop the CA bundle variables when [novalink] ca_file or insecure is set;
    returns the names dropped (logged once logging is up)."""
    if not (conf.novalink.ca_file or conf.novalink.insecure):
        return []
    return [name for name in _CA_BUNDLE_ENV if os.environ.pop(name, None) is not None]


def parse_args(conf: cfg.ConfigOpts, argv: Sequence[str]) -> None:
    """oslo.config's parse, with argparse's usage dump cut to its one error line."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            conf(list(argv), project="lpar-eventd", prog="lpar-eventd",
                 version=__version__)
    except SystemExit as exc:
        if not exc.code:  # --help, --version: already printed on stdout
            raise
        lines = [line for line in captured.getvalue().splitlines() if line.strip()]
        message = lines[-1] if lines else f"bad arguments: {' '.join(argv)}"
        raise cfg.Error(message.split(": error: ", 1)[-1] + " (see --help)") from None
    except cfg.ConfigFilesPermissionDeniedError as exc:
        raise cfg.Error(f"cannot read {', '.join(exc.config_files)}: permission denied "
                        f"(running as user {_user()})") from None
    except cfg.ConfigFilesNotFoundError as exc:
        raise cfg.Error(f"no such file: {', '.join(exc.config_files)}") from None
    except cfg.ConfigFileParseError as exc:
        raise cfg.Error(f"{exc.config_file}: {exc.msg.split(', ', 1)[-1]}") from None
    sys.stderr.write(captured.getvalue())


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def load(argv: Sequence[str]) -> cfg.ConfigOpts:
    """Parse and check the command line and configuration files; raises
    cfg.Error with one line on the first problem (start-up and reload alike)."""
    conf = make_conf()
    parse_args(conf, argv)
    check.check_known(conf)
    check.check_values(conf)
    check.check_plugins(conf)
    check.check_files(conf)
    return conf


def run_daemon(argv: Sequence[str]) -> int:
    try:
        conf = load(argv)
    except (cfg.Error, ValueError) as exc:
        print(f"lpar-eventd: configuration error: {_one_line(exc)}", file=sys.stderr)
        return 2
    oslo_log.setup(conf, "lpar-eventd")
    # SIGABRT (systemd's watchdog on a wedged scheduler), SIGSEGV and the
    # like print every thread's stack on stderr (the journal) before dying.
    try:
        faulthandler.enable()
    except (io.UnsupportedOperation, ValueError):  # stderr without a descriptor
        pass
    dropped = honour_tls_options(conf)
    if dropped:
        logging.getLogger(__name__).warning(
            "ignoring %s from the environment: [novalink] ca_file/insecure decide "
            "how NovaLink's certificate is verified", ", ".join(dropped))
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
    return _serve(conf, make_service(daemon), argv)


def _serve(conf: cfg.ConfigOpts, service: object, argv: Sequence[str] = ()) -> int:
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
            if _reload_checks_out(argv):
                launcher.restart()
    launcher.stop()
    return 0


def _reload_checks_out(argv: Sequence[str]) -> bool:
    """SIGHUP: the changed files pass the start-up checks, or the running
    configuration stays and one ERROR line says why (oslo.config's own reload
    would apply the good values and drop a typo without a word)."""
    try:
        load(argv)
    except (cfg.Error, ValueError) as exc:
        problem = _one_line(exc)
    else:
        return True
    # Logged outside the except block: oslo.log appends the exception in
    # flight, and the one line says everything.
    logging.getLogger(__name__).error(
        "Reload refused, the running configuration stays: %s", problem)
    return False


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextlib.contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    """The helper commands' argparse errors as one line, like the daemon's.

    Their parsers live with the commands (demo, seed); swapping ``error`` for
    the length of the command keeps them unchanged for library callers.
    """
    original = argparse.ArgumentParser.error

    def error(self: argparse.ArgumentParser, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    argparse.ArgumentParser.error = error  # type: ignore[method-assign]
    try:
        yield
    finally:
        argparse.ArgumentParser.error = original  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "demo":
        from lpar_eventd.demo import main as demo_main
        with _one_line_usage_errors():
            return demo_main(args[1:])
    if args and args[0] == "seed-nova":
        from lpar_eventd.nova.seed import main as seed_main
        with _one_line_usage_errors():
            return seed_main(args[1:])
    return run_daemon(args)


if __name__ == "__main__":
    sys.exit(main())
