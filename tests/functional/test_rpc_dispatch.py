"""The compute dispatcher: namespaces, versions, the V3 proxy, baseapi, and
errors answered without the server dying — through a real RPC server."""

import oslo_messaging as messaging
import pytest

from novalite import baserpc, rpc
from novalite import context as nl_context
from novalite.compute import api as compute_api
from novalite.compute import vm_states
from novalite.conf import CONF
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from tests.functional.stack import Stack


@pytest.fixture
def rpc_stack(tmp_path):
    s = Stack(str(tmp_path), with_api=False).start()
    try:
        yield s
    finally:
        s.stop()


def _client(version, namespace=None):
    return rpc.get_client(messaging.Target(topic=CONF.compute_topic, server="host1",
                                           version=version, namespace=namespace), timeout=10)


def _active_instance(stack):
    ctxt = nl_context.get_admin_context()
    api = compute_api.API()
    insts, _ = api.create(ctxt, flavor=Flavor.get_by_flavor_id(ctxt, "1"),
                          image_id=stack.image_id, display_name="rpc")
    inst = insts[0]
    for _ in range(500):
        inst = Instance.get_by_uuid(ctxt, inst.uuid)
        if inst.vm_state == vm_states.ACTIVE and inst.task_state is None:
            return ctxt, inst
        import time

        time.sleep(0.01)
    raise AssertionError(f"instance never became active: {inst.vm_state}")


def test_baseapi_ping_and_backdoor_port(rpc_stack):
    ctxt = nl_context.get_admin_context()
    api = baserpc.BaseAPI(CONF.compute_topic)
    assert api.ping(ctxt, "hello", server="host1") == {"service": "novalite-compute",
                                                       "arg": "hello"}
    assert api.get_backdoor_port(ctxt, "host1") is None


def test_current_version_reaches_the_manager(rpc_stack):
    ctxt, inst = _active_instance(rpc_stack)
    out = _client("6.1").call(ctxt, "get_console_output", instance=inst, length=None)
    assert f"fake guest {inst.uuid} booted" in out


def test_v3_call_reaches_the_proxy_and_is_forwarded(rpc_stack):
    ctxt, inst = _active_instance(rpc_stack)
    inst.task_state = "powering-off"
    inst.save()
    _client("3.0").call(ctxt, "stop_instance", instance=inst)
    inst = Instance.get_by_uuid(ctxt, inst.uuid)
    assert inst.vm_state == vm_states.STOPPED and inst.task_state is None


def test_v3_proxy_does_not_expose_newer_methods(rpc_stack):
    ctxt, inst = _active_instance(rpc_stack)
    with pytest.raises(messaging.NoSuchMethod):
        _client("3.0").call(ctxt, "get_console_output", instance=inst, length=None)


def test_unknown_version_and_method_are_errors_and_server_keeps_serving(rpc_stack):
    ctxt = nl_context.get_admin_context()
    with pytest.raises(messaging.UnsupportedVersion):
        _client("7.0").call(ctxt, "get_console_output", instance=None, length=None)
    with pytest.raises(messaging.NoSuchMethod):
        _client("6.0").call(ctxt, "no_such_method")
    with pytest.raises(messaging.UnsupportedVersion):
        _client("2.0", namespace="baseapi").call(ctxt, "ping", arg=1)
    assert _client("1.0", namespace="baseapi").call(ctxt, "ping", arg=2)["arg"] == 2


def test_malformed_arguments_get_an_error_reply(rpc_stack):
    ctxt = nl_context.get_admin_context()
    with pytest.raises(Exception) as exc_info:
        _client("6.1").call(ctxt, "get_console_output", instance={"garbage": True}, length=3)
    assert not isinstance(exc_info.value, messaging.MessagingTimeout)
    with pytest.raises(Exception) as exc_info:
        _client("6.1").call(ctxt, "get_console_output", bogus_kwarg=1)
    assert not isinstance(exc_info.value, messaging.MessagingTimeout)
    assert _client("1.0", namespace="baseapi").call(ctxt, "ping", arg="still")["arg"] == "still"
