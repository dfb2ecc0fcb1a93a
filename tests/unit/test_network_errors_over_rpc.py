"""A Neutron error raised where the database is (the conductor: a port that
another server took between the API's check and the bind, on an
os-interface attach) crosses RPC as its own class, so the API answers its
409/404 with its message instead of a 500 for a RemoteError."""

from __future__ import annotations

import oslo_messaging as messaging
from oslo_messaging._drivers import common

from novalite import rpc
from novalite.network import exceptions as n_exc


def _over_rpc(exc: Exception) -> Exception:
    data = common.serialize_remote_exception((type(exc), exc, None))
    return common.deserialize_remote_exception(data, rpc.ALLOWED_EXMODS)


def test_port_in_use_keeps_its_class_and_code():
    got = _over_rpc(n_exc.PortInUse(port_id="p1", net_id="n1", device_id="d1"))
    assert isinstance(got, n_exc.PortInUse) and got.code == 409
    assert "Port already has an attached device d1" in str(got)


def test_port_not_found_keeps_its_class_and_code():
    got = _over_rpc(n_exc.PortNotFound(port_id="p2"))
    assert isinstance(got, n_exc.PortNotFound) and got.code == 404


class _Elsewhere(Exception):
    """An exception of a module the transport does not allow."""


def test_other_modules_stay_remote_errors():
    got = _over_rpc(_Elsewhere("boom"))
    assert isinstance(got, messaging.RemoteError) and not isinstance(got, _Elsewhere)
