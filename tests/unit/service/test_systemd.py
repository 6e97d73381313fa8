"""sd_notify datagrams reach $NOTIFY_SOCKET; nothing happens without it."""

import socket

from lpar_eventd.systemd import Notifier


def test_ready_and_status_reach_the_socket(tmp_path):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(2)
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        assert notifier.notify("READY=1", "STATUS=feed connected")
        assert sock.recv(1024) == b"READY=1\nSTATUS=feed connected"
        notifier.watchdog("pending 3, in flight 1")
        assert sock.recv(1024) == b"WATCHDOG=1\nSTATUS=pending 3, in flight 1"
        notifier.watchdog("pending 4")  # within half the interval: rate-limited
        sock.settimeout(0.2)
        try:
            extra = sock.recv(1024)
        except TimeoutError:
            extra = None
        assert extra is None


def test_no_socket_no_op():
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.notify("READY=1") is False


def test_status_is_sent_when_it_changes_and_the_watchdog_when_due(tmp_path, monkeypatch):
    """STATUS follows the daemon (at most once a second) even when the
    watchdog interval is long; an unchanged STATUS is not repeated."""
    from lpar_eventd import systemd

    now = [100.0]
    monkeypatch.setattr(systemd.time, "monotonic", lambda: now[0])
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(0.2)

        def received() -> list[bytes]:
            out = []
            try:
                while True:
                    out.append(sock.recv(1024))
            except TimeoutError:
                return out
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "60000000"})
        notifier.watchdog("waiting for the first NovaLink feed read")
        assert received() == [b"WATCHDOG=1\nSTATUS=waiting for the first NovaLink feed read"]
        now[0] += 2
        notifier.watchdog("waiting for the first NovaLink feed read")
        assert received() == []
        notifier.watchdog("NovaLink feed ok; 0 pending, 0 in flight")
        assert received() == [b"STATUS=NovaLink feed ok; 0 pending, 0 in flight"]
        now[0] += 0.5
        notifier.watchdog("NovaLink feed ok; 3 pending, 0 in flight")
        assert received() == []  # within a second of the last STATUS
        now[0] += 28
        notifier.watchdog("NovaLink feed ok; 3 pending, 0 in flight")
        assert received() == [b"WATCHDOG=1\nSTATUS=NovaLink feed ok; 3 pending, 0 in flight"]
