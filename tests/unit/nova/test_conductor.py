"""Conductor mode wiring, over oslo.messaging's in-process fake transport.

No conductor runs here: these tests check that nova.objects calls are
routed to nova's conductor RPC client on the configured transport, and that
no answer becomes NovaUnavailable. The real round trip (nova's own
ConductorManager behind rabbitmq-server) is in
tests/functional/test_nova_rabbitmq.py.
"""

from __future__ import annotations

import uuid

import pytest
from nova import rpc
from nova.conductor import rpcapi as conductor_rpcapi
from nova.objects import base as objects_base

from lpar_eventd.nova import conductor
from lpar_eventd.nova.errors import NovaUnavailable
from lpar_eventd.nova.lookup import ConductorLookup, make_lookup


@pytest.fixture
def wired():
    lookup = ConductorLookup(transport_url="fake:/", timeout=1)
    yield lookup
    conductor.stop_using_conductor(lookup.wiring)


class TestWiring:
    def test_indirection_api_is_nova_conductor_client(self, wired):
        api = objects_base.NovaObject.indirection_api
        assert isinstance(api, conductor_rpcapi.ConductorAPI)
        assert api is wired.wiring.api
        assert api.client.target.topic == "conductor"

    def test_transport_from_transport_url(self, wired):
        assert rpc.TRANSPORT is wired.wiring.transport
        assert type(rpc.TRANSPORT._driver).__name__ == "FakeDriver"
        assert wired.wiring.owned_transport

    def test_stop_restores_direct_access(self):
        lookup = ConductorLookup(transport_url="fake:/")
        conductor.stop_using_conductor(lookup.wiring)
        assert objects_base.NovaObject.indirection_api is None
        assert rpc.TRANSPORT is None

    def test_reuses_an_existing_nova_transport(self, wired):
        again = conductor.use_conductor()
        assert again.transport is wired.wiring.transport
        assert not again.owned_transport

    def test_by_name(self):
        lookup = make_lookup("conductor", transport_url="fake:/")
        try:
            assert isinstance(lookup, ConductorLookup)
        finally:
            conductor.stop_using_conductor(lookup.wiring)


class TestNoConductor:
    def test_timeout_is_nova_unavailable(self, wired):
        with pytest.raises(NovaUnavailable, match="conductor at fake:/ unavailable: "
                           "MessagingTimeout"):
            wired.get_instance(wired.admin_context(), str(uuid.uuid4()))


class TestMaskUrl:
    @pytest.mark.parametrize("url,masked", [
        ("rabbit://nova:s3cret@ctl:5672/", "rabbit://nova:***@ctl:5672/"),
        ("rabbit://a:x@h1:5672,b:y@h2:5672/v", "rabbit://a:***@h1:5672,b:***@h2:5672/v"),
        ("fake:/", "fake:/"), (None, "(nova default transport)")])
    def test_passwords_hidden(self, url, masked):
        assert conductor.mask_url(url) == masked
