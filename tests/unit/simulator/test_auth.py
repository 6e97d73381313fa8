import pytest

from lpar_eventd.simulator.auth import Authenticator, BadLogonRequest, LogonError

NS = "http://www.ibm.com/xmlns/systems/power/firmware/web/mc/2012_10/"


def _body(inner):
    return (f'<LogonRequest xmlns="{NS}" schemaVersion="V1_0">'
            f"<UserID>hscroot</UserID>{inner}</LogonRequest>").encode()


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_password_file_expiry_logoff(tmp_path):
    clock = Clock()
    auth = Authenticator({"hscroot": "abc123"}, tmp_path, ttl=10, clock=clock)
    token = auth.logon(_body("<Password>abc123</Password>")).token
    assert auth.valid(token)
    result = auth.logon(_body("<GenerateX-API-SessionFile>true</GenerateX-API-SessionFile>"))
    with open(result.file) as handle:
        assert handle.read().strip() == result.token
    clock.now = 11
    assert not auth.valid(token)
    fresh = auth.logon(_body("<Password>abc123</Password>")).token
    assert auth.logoff(fresh) and not auth.valid(fresh)
    assert not auth.valid(None)


def test_wrong_and_malformed(tmp_path):
    auth = Authenticator({"hscroot": "abc123"}, tmp_path, allow_file_auth=False)
    with pytest.raises(LogonError):
        auth.logon(_body("<Password>nope</Password>"))
    with pytest.raises(LogonError):
        auth.logon(_body("<GenerateX-API-SessionFile>true</GenerateX-API-SessionFile>"))
    for bad in (b"<x", b"<Other/>", b"<LogonRequest/>",
                b'<!DOCTYPE x [<!ENTITY a "aaa">]><LogonRequest>&a;</LogonRequest>'):
        with pytest.raises(BadLogonRequest):
            auth.logon(bad)
