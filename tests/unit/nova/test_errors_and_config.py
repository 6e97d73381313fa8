"""One-line errors and nova's global configuration in one place."""

from __future__ import annotations

from oslo_db import exception as db_exc

from lpar_eventd.nova.config import configure_nova, nova_conf
from lpar_eventd.nova.errors import NovaUnavailable, one_line, unavailable


class TestOneLine:
    def test_first_line_only(self):
        exc = db_exc.DBError("(sqlite3.OperationalError) database is locked\n"
                             "[SQL: SELECT ...]\n(Background ...)")
        assert one_line(exc) == "DBError: (sqlite3.OperationalError) database is locked"

    def test_long_message_is_cut(self):
        assert len(one_line(ValueError("x" * 1000), limit=50)) < 70

    def test_empty_message(self):
        assert one_line(TimeoutError()) == "TimeoutError"

    def test_unavailable_names_endpoint_and_keeps_cause(self):
        cause = ConnectionError("refused")
        err = unavailable("conductor at rabbit://ctl", cause)
        assert isinstance(err, NovaUnavailable)
        assert str(err) == "nova conductor at rabbit://ctl unavailable: ConnectionError: refused"
        assert err.cause is cause


class TestConfigureNova:
    def test_sets_database_connection(self):
        conf = configure_nova(connection="sqlite:///a.sqlite")
        assert conf is nova_conf()
        assert conf.database.connection == "sqlite:///a.sqlite"
        configure_nova(connection="sqlite:///b.sqlite")
        assert conf.database.connection == "sqlite:///b.sqlite"

    def test_sets_transport_url(self):
        conf = configure_nova(transport_url="fake:/")
        assert conf.transport_url == "fake:/"

    def test_objects_registered(self):
        configure_nova()
        from nova import objects
        assert hasattr(objects, "InstanceList")
