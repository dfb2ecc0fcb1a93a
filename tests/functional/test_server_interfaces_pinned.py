"""os-interface with the computes pinned below compute RPC 6.10 ([upgrade_levels]
compute, as during a rolling upgrade whose computes have no attach_interface
yet): 409 naming the version, nothing recorded or bound. A stack of its own
(the pin is read when the API's compute client is made)."""

from __future__ import annotations

from tests.functional.test_server_interfaces import (
    A,
    attachments,
    boot,
    events_of,
    fault,
    net_call,
    network,
)


def test_computes_pinned_below_6_10_refuse_with_409(make_stack):
    pinned = make_stack(overrides={("upgrade_levels", "compute"): "6.9"})
    net, _ = network(pinned, A, "if-pin", "10.88.0.0/24")
    sid = boot(pinned, A, "if-pin-vm", net["id"])
    mine = net_call(pinned, "POST", "/ports", A, {"port": {"network_id": net["id"]}},
                    201)["port"]
    message = fault(pinned, "POST", f"/servers/{sid}/os-interface", A,
                    {"interfaceAttachment": {"port_id": mine["id"]}}, status=409)
    assert "compute RPC 6.10" in message
    (only,) = attachments(pinned, sid)
    assert "compute RPC 6.10" in fault(
        pinned, "DELETE", f"/servers/{sid}/os-interface/{only['port_id']}", A, status=409)
    assert net_call(pinned, "GET", f"/ports/{mine['id']}", A)["port"]["device_id"] == ""
    assert "attach_interface" not in events_of(pinned, sid)
