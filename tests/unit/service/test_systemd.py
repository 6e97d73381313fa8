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
