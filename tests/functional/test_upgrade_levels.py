"""[upgrade_levels] compute: pinned, auto (lowest running compute), newest."""

from oslo_utils import timeutils

from novalite import context as nl_context
from novalite import exception
from novalite.compute import rpcapi
from novalite.conf import CONF
from novalite.objects.service import Service


def _client(pin):
    CONF.set_override("compute", pin, group="upgrade_levels")
    try:
        return rpcapi.ComputeAPI().client
    finally:
        CONF.clear_override("compute", group="upgrade_levels")


def test_auto_follows_the_lowest_running_compute(stack):
    assert _client("auto").can_send_version("6.1")
    ctxt = nl_context.get_admin_context()
    old = Service(context=ctxt, host="old-host", binary="novalite-compute", topic="compute",
                  rpc_version="6.0", report_count=0, last_seen_up=timeutils.utcnow())
    old.create()
    client = _client("auto")
    assert client.can_send_version("6.0") and not client.can_send_version("6.1")


def test_a_down_old_compute_does_not_hold_the_pin(stack):
    ctxt = nl_context.get_admin_context()
    Service(context=ctxt, host="gone-host", binary="novalite-compute", topic="compute",
            rpc_version="6.0", report_count=0, last_seen_up=None).create()
    assert _client("auto").can_send_version("6.1")


def test_explicit_pin_and_a_clear_refusal(stack):
    client_api = rpcapi.ComputeAPI()
    CONF.set_override("compute", "6.0", group="upgrade_levels")
    try:
        server = stack.boot("pinned")
        stack.wait_status(server["id"], "ACTIVE")
        from novalite.objects.instance import Instance

        inst = Instance.get_by_uuid(nl_context.get_admin_context(), server["id"])
        try:
            client_api.get_console_output(nl_context.get_admin_context(), inst, None)
        except exception.Conflict as e:
            assert "pinned lower" in e.format_message()
        else:
            raise AssertionError("a 6.1 call went out under a 6.0 pin")
    finally:
        CONF.clear_override("compute", group="upgrade_levels")
    assert _client(None).can_send_version("6.1")
