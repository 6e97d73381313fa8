"""Start-up checks of the configuration: everything wrong is one line.

oslo.config reads what it knows and ignores the rest, and checks a value only
when it is read. A daemon must refuse a typo (``settle_secs``, ``[event]``)
rather than run on defaults, and a bad value before it starts, not in a
thread an hour later. So, before anything is built:

* ``check_known``: every group and option in the configuration files is one
  the daemon registers or one of its option namespaces lists
  (``opts.NAMESPACES``: ours and oslo.log's), as ``oslo-config-validator``
  finds unknown ones: the files parsed with oslo.config's ``ConfigParser``,
  compared with the options (and their deprecated names);
* ``check_values``: every option read once; a bad one names the file, the
  group, the option, the value (``****`` for secrets) and the reason;
* ``check_plugins``: the policy and sink names are installed entry points;
* ``check_files``: the files the options name are readable.

Each raises ``cfg.Error`` with a one-line message.

    conf(["--config-file", path], project="lpar-eventd")
    check_known(conf); check_values(conf); check_plugins(conf); check_files(conf)
"""

from __future__ import annotations

import difflib
import glob
import os
from collections.abc import Iterable

from oslo_config import cfg
from stevedore import NamedExtensionManager

from lpar_eventd.conf import opts as lpar_opts

__all__ = ["check_known", "check_values", "check_plugins", "check_files",
           "config_files", "known_options", "unknown_options"]

DEFAULT = "DEFAULT"


def config_files(conf: cfg.ConfigOpts) -> list[str]:
    """The files oslo.config read: --config-file ones, then --config-dir's *.conf."""
    files = [f for f in (conf.config_file or []) if os.path.isfile(f)]
    dirs = conf.config_dir or []
    for directory in [dirs] if isinstance(dirs, str) else dirs:
        files.extend(sorted(glob.glob(os.path.join(directory, "*.conf"))))
    return files


def _names(opt: cfg.Opt) -> set[str]:
    return {opt.name, opt.dest, opt.name.replace("-", "_")}


def known_options(conf: cfg.ConfigOpts,
                  namespaces: Iterable[str] = lpar_opts.NAMESPACES) -> dict[str, set[str]]:
    """Group name -> option names the daemon knows (registered on ``conf``, or
    listed by the ``oslo.config.opts`` entry points of ``namespaces``, with
    deprecated names in their deprecated groups)."""
    known: dict[str, set[str]] = {DEFAULT: set()}
    for key in conf:
        value = conf[key]
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            known.setdefault(key, set()).update(value)
        else:
            known[DEFAULT].add(key)
    # Only the namespaces asked for are imported: loading every entry point
    # would import (and configure) half of OpenStack.
    manager = NamedExtensionManager("oslo.config.opts", names=list(namespaces),
                                    invoke_on_load=True)
    for ext in manager:
        for group, options in ext.obj:
            name = getattr(group, "name", group) or DEFAULT
            for opt in options:
                known.setdefault(name, set()).update(_names(opt))
                for old in opt.deprecated_opts or ():
                    known.setdefault(old.group or name, set()).add(
                        old.name or opt.name)
    return known


def unknown_options(conf: cfg.ConfigOpts) -> list[str]:
    """Unknown groups and options, one phrase each, per file that has them."""
    known = known_options(conf)
    problems = []
    for path in config_files(conf):
        sections: dict[str, dict[str, list[str]]] = {}
        cfg.ConfigParser(path, sections).parse()
        found = []
        for group, options in sections.items():
            if group not in known:
                found.append(f"unknown group [{group}]{_hint(group, known, '[%s]')}")
                continue
            for option in options:
                if option not in known[group] and option.replace("-", "_") not in known[group]:
                    found.append(f"unknown option [{group}] {option}"
                                 f"{_hint(option, known[group])}")
        if found:
            problems.append(f"{path}: {'; '.join(found)}")
    return problems


def _hint(word: str, choices: Iterable[str], form: str = "%s") -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {form % close[0]}?)" if close else ""


def check_known(conf: cfg.ConfigOpts) -> None:
    problems = unknown_options(conf)
    if problems:
        raise cfg.Error("; ".join(problems))


def _raw_values(path: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    cfg.ConfigParser(path, sections).parse()
    return sections


def _reason(opt: cfg.Opt, raw: str | None, exc: BaseException) -> str:
    """Why ``raw`` is refused, in the option type's own words."""
    if raw is not None:
        try:
            opt.type(raw)
        except (ValueError, TypeError) as refused:
            text = str(refused).strip().splitlines()
            if text:
                return text[0][:1].lower() + text[0][1:]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.split(" is not valid: ", 1)[-1]


def check_values(conf: cfg.ConfigOpts,
                 groups: Iterable[tuple[str, list[cfg.Opt]]] | None = None) -> None:
    """Read every option of ``groups`` (default: ours) once; a bad value is
    one line: ``FILE: [group] option = value: reason`` (secrets as ****)."""
    for group, options in lpar_opts.list_opts() if groups is None else groups:
        for opt in options:
            try:
                getattr(conf[group], opt.dest)
            except (cfg.Error, ValueError) as exc:
                raise cfg.Error(_value_error(conf, group, opt, exc)) from None


def _value_error(conf: cfg.ConfigOpts, group: str, opt: cfg.Opt,
                 exc: BaseException) -> str:
    where, raw = "", None
    # The last file that sets it wins, as in oslo.config (whose get_location
    # reads the value too, and so raises the same error).
    for path in reversed(config_files(conf)):
        values = _raw_values(path).get(group, {})
        found = values.get(opt.name) or values.get(opt.dest)
        if found:
            where, raw = f"{path}: ", found[-1]
            break
    reason = _reason(opt, raw, exc)
    if opt.secret and raw:
        raw, reason = "****", reason.replace(raw, "****")
    value = f" = {raw}" if raw is not None else ""
    return f"{where}[{group}] {opt.name}{value}: {reason}"


def check_plugins(conf: cfg.ConfigOpts) -> None:
    """The policy and the sinks name installed entry points (stevedore would
    log a warning and raise later, in the middle of building)."""
    from lpar_eventd.engine.registry import policy_names
    from lpar_eventd.sinks.registry import sink_names
    policies = policy_names()
    if conf.events.policy not in policies:
        raise cfg.Error(f"[events] policy = {conf.events.policy}: unknown policy "
                        f"(choose from {', '.join(policies)})")
    sinks = sink_names()
    unknown = [name for name in conf.sink.driver if name not in sinks]
    if unknown:
        raise cfg.Error(f"[sink] driver = {','.join(conf.sink.driver)}: unknown sink "
                        f"{', '.join(unknown)} (choose from {', '.join(sinks)})")
    if not conf.sink.driver:
        raise cfg.Error(f"[sink] driver is empty (choose from {', '.join(sinks)})")


# Files the daemon reads after start-up: a typo must stop start-up instead
# (a missing CA file would otherwise fail every NovaLink request, for ever).
_FILE_OPTS = (("novalink", "ca_file"), ("metrics", "cert_file"), ("metrics", "key_file"),
              ("metrics", "basic_auth_file"))


def check_files(conf: cfg.ConfigOpts) -> None:
    """Every file option names a readable file; TLS cert and key come in pairs."""
    for group, name in _FILE_OPTS:
        path = getattr(conf[group], name)
        if path and not (os.path.isfile(path) and os.access(path, os.R_OK)):
            raise cfg.Error(f"[{group}] {name} = {path}: not a readable file")
    if bool(conf.metrics.cert_file) != bool(conf.metrics.key_file):
        raise cfg.Error("[metrics] cert_file and key_file go together")
