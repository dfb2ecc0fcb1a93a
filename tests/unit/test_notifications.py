"""Versioned notifications: Nova's payload envelope and fields, which
compute step notifies what, and the in-process bus keeping no notification
nobody listens for."""

from __future__ import annotations

import datetime
import queue
import uuid
import warnings

import oslo_messaging
import pytest

from novalite import context as nl_context
from novalite import notifications, objects
from novalite.notifications import events, payloads
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from tests.unit.test_inproc_transport import make_transport

# NOTE: nova/notifications/objects/instance.py's InstancePayload 1.7 fields,
# InstanceActionPayload's fault, InstanceCreatePayload 1.11's own.
NOVA_INSTANCE_FIELDS = {
    "uuid", "user_id", "tenant_id", "reservation_id", "display_name", "display_description",
    "host_name", "host", "node", "os_type", "architecture", "availability_zone", "flavor",
    "image_uuid", "key_name", "kernel_id", "ramdisk_id", "created_at", "launched_at",
    "terminated_at", "deleted_at", "updated_at", "state", "power_state", "task_state",
    "progress", "ip_addresses", "block_devices", "metadata", "locked", "auto_disk_config",
    "request_id", "action_initiator_user", "action_initiator_project"}
NOVA_CREATE_FIELDS = NOVA_INSTANCE_FIELDS | {"fault", "keypairs", "tags",
                                             "trusted_image_certificates", "instance_name"}
NOVA_FLAVOR_FIELDS = {"flavorid", "memory_mb", "vcpus", "root_gb", "ephemeral_gb", "name",
                      "swap", "rxtx_factor", "vcpu_weight", "disabled", "is_public",
                      "extra_specs", "projects", "description"}

VIF = {"id": str(uuid.uuid4()), "address": "fa:16:3e:00:00:01", "devname": "tap0",
       "network": {"id": "n1", "label": "private", "subnets": [
           {"cidr": "10.0.0.0/24", "version": 4,
            "ips": [{"address": "10.0.0.5", "type": "fixed", "version": 4}]}]}}


# NOTE: `ssh-keygen -l -E md5` of this key: MD5:09:0f:4e:8a:a1:19:c3:9c:5a:c3:1a:5e:c2:b5:0e:db
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIInsc/zZtYSk9j+tKppmxjdn1Y7dBTfy0Sk1TYD+zCC8 t"
KEY_MD5 = "09:0f:4e:8a:a1:19:c3:9c:5a:c3:1a:5e:c2:b5:0e:db"


def _instance() -> Instance:
    objects.register_all()
    flavor = Flavor(id=1, flavorid="1", name="m1.tiny", memory_mb=512, vcpus=1, root_gb=1,
                    ephemeral_gb=0, swap=0, rxtx_factor=1.0, is_public=True, disabled=False,
                    description=None, extra_specs={"hw:cpu_policy": "shared"})
    created = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.UTC)
    return Instance(id=7, uuid=str(uuid.uuid4()), display_name="vm", display_description=None,
                    hostname="vm", project_id="p1", user_id="u1", host="host1", node="host1",
                    availability_zone="nova", image_ref=str(uuid.uuid4()), flavor=flavor,
                    vm_state="active", task_state=None, power_state=1, launched_at=created,
                    terminated_at=None, reservation_id="r-1", key_name="k", key_data=KEY,
                    locked=False,
                    auto_disk_config=False, metadata={"role": "web"}, created_at=created,
                    updated_at=None, deleted_at=None)


def test_create_payload_is_novas_envelope_and_fields() -> None:
    ctx = nl_context.RequestContext(user_id="u1", project_id="p1", request_id="req-1")
    payload = payloads.InstanceCreatePayload()
    payload.fill(ctx, _instance(), [VIF])
    payload.fault = None
    prim = payload.primitive()
    assert prim["nova_object.name"] == "InstanceCreatePayload"
    assert prim["nova_object.namespace"] == "nova"
    assert prim["nova_object.version"] == "1.11"
    assert "nova_object.changes" not in prim
    data = prim["nova_object.data"]
    assert set(data) == NOVA_CREATE_FIELDS
    assert data["state"] == "active" and data["power_state"] == "running"
    assert data["tenant_id"] == "p1" and data["request_id"] == "req-1"
    assert data["action_initiator_user"] == "u1" and data["action_initiator_project"] == "p1"
    assert data["auto_disk_config"] == "MANUAL" and data["locked"] is False
    assert data["created_at"] == "2026-12-06T12:00:00Z"
    assert data["metadata"] == {"role": "web"}
    [keypair] = data["keypairs"]
    assert keypair["nova_object.name"] == "KeypairPayload"
    assert keypair["nova_object.data"] == {"user_id": "u1", "name": "k", "public_key": KEY,
                                           "fingerprint": KEY_MD5, "type": "ssh"}
    flavor = data["flavor"]
    assert flavor["nova_object.name"] == "FlavorPayload"
    assert flavor["nova_object.version"] == "1.4"
    assert set(flavor["nova_object.data"]) == NOVA_FLAVOR_FIELDS
    assert flavor["nova_object.data"]["memory_mb"] == 512
    [ip] = data["ip_addresses"]
    assert ip["nova_object.name"] == "IpPayload"
    assert ip["nova_object.data"] == {"label": "private", "mac": "fa:16:3e:00:00:01",
                                      "meta": {}, "port_uuid": VIF["id"], "version": 4,
                                      "address": "10.0.0.5", "device_name": "tap0"}


def test_a_fault_is_novas_exception_payload() -> None:
    def failing_step() -> None:
        raise ValueError("disk full")

    try:
        failing_step()
    except ValueError as exc:
        fault = payloads.ExceptionPayload.from_exception(exc, "disk full")
    payload = payloads.InstanceActionPayload()
    payload.fill(nl_context.RequestContext(), _instance(), [])
    payload.fault = fault
    data = payload.primitive()["nova_object.data"]
    assert set(data) == NOVA_INSTANCE_FIELDS | {"fault"}
    # NOTE: as Nova's: a periodic task's context (no user) has no request id.
    assert data["request_id"] is None
    fault_data = data["fault"]["nova_object.data"]
    assert data["fault"]["nova_object.name"] == "ExceptionPayload"
    assert fault_data["exception"] == "ValueError"
    assert fault_data["exception_message"] == "disk full"
    assert fault_data["function_name"] == "failing_step"
    assert "raise ValueError" in fault_data["traceback"]


@pytest.mark.parametrize(("event", "phase", "action"), [
    ("compute_terminate_instance", "start", "delete"),
    ("compute_stop_instance", "end", "power_off"),
    ("compute_start_instance", "error", "power_on"),
    ("compute_attach_volume", "end", "volume_attach"),
    ("compute_revert_resize", "start", "resize_revert"),
    ("compute_revert_resize", "end", None),
    ("compute_finish_revert_resize", "end", "resize_revert"),
    ("compute_inject_files", "start", None),
])
def test_compute_steps_notify_novas_actions(event: str, phase: str,
                                            action: str | None) -> None:
    assert events.for_event(event, phase) == action


def test_volume_actions_use_the_volume_payload() -> None:
    assert events.payload_class("volume_attach") is payloads.InstanceActionVolumePayload
    assert events.payload_class("power_off") is payloads.InstanceActionPayload


def test_inproc_keeps_no_notification_nobody_listens_for() -> None:
    transport = make_transport(notifications=True)
    topic = f"notif-{uuid.uuid4().hex[:8]}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notifier = oslo_messaging.Notifier(transport, publisher_id="novalite-compute:h",
                                               driver="messagingv2", topics=[topic])
        for _ in range(100):
            notifier.info({}, "instance.create.end", {"uuid": "u-1"})
        sink: queue.Queue = queue.Queue()

        class Info:
            def info(self, ctxt: dict, publisher_id: str, event_type: str, payload: dict,
                     metadata: dict) -> None:
                sink.put(event_type)

        listener = oslo_messaging.get_notification_listener(
            transport, [oslo_messaging.Target(topic=topic)], [Info()])
        listener.start()
        try:
            notifier.info({}, "instance.delete.end", {"uuid": "u-1"})
            # NOTE: the 100 sent before any listener were not kept (in the
            # default queue this pool-less listener reads); this one arrives.
            assert sink.get(timeout=5) == "instance.delete.end"
            with pytest.raises(queue.Empty):
                sink.get(timeout=0.2)
        finally:
            listener.stop()
            listener.wait()
    finally:
        transport.cleanup()


def test_a_steps_own_fields_go_to_its_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    from novalite import notifications

    # NOTE: the addresses come from the info cache (the database); not here.
    monkeypatch.setattr(notifications, "_network_info", lambda context, instance: [])
    volume_id = str(uuid.uuid4())
    ctx = nl_context.RequestContext(user_id="u1", project_id="p1")
    attach = notifications.build(ctx, _instance(), "volume_attach", volume_id=volume_id)
    prim = attach.primitive()
    assert prim["nova_object.name"] == "InstanceActionVolumePayload"
    assert prim["nova_object.version"] == "1.5"
    assert prim["nova_object.data"]["volume_id"] == volume_id
    # NOTE: a field the action's payload does not have is not sent.
    stop = notifications.build(ctx, _instance(), "power_off", volume_id=volume_id).primitive()
    assert "volume_id" not in stop["nova_object.data"]


class _Bus:
    """The notifier and sender of a process, inline: what is sent, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []
        self.reads = 0

    def prepare(self, publisher_id: str) -> _Bus:
        return self

    def info(self, ctxt: dict, event_type: str, payload: dict) -> None:
        self.sent.append((event_type, payload["nova_object.data"]))

    error = info

    def put(self, job: object) -> None:
        job()  # type: ignore[operator]

    def read(self, context: object, instance: object) -> list[dict]:
        self.reads += 1
        return [VIF]


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> _Bus:
    b = _Bus()
    monkeypatch.setattr(notifications, "get_transport", lambda: object())
    monkeypatch.setattr(notifications, "_get_notifier", lambda: b)
    monkeypatch.setattr(notifications, "_get_sender", lambda: b)
    monkeypatch.setattr(notifications, "_network_info", b.read)
    return b


def test_an_actions_end_shows_the_state_after_its_final_save(bus: _Bus) -> None:
    ctx = nl_context.RequestContext(user_id="u1", project_id="p1")
    inst = _instance()
    inst.task_state = "powering-off"
    with notifications.deferred():
        notifications.step(ctx, inst, "compute_stop_instance", "start")
        notifications.step(ctx, inst, "compute_stop_instance", "end")
        # NOTE: the .end waits for the action's end (its save comes after the step).
        assert [e for e, _ in bus.sent] == ["instance.power_off.start"]
        inst.vm_state, inst.task_state, inst.power_state = "stopped", None, 4
    (start_type, start), (end_type, end) = bus.sent
    assert start_type == "instance.power_off.start"
    assert (start["state"], start["task_state"]) == ("active", "powering-off")
    assert end_type == "instance.power_off.end"
    assert (end["state"], end["task_state"], end["power_state"]) == ("stopped", None, "shutdown")
    # NOTE: one read of the addresses for the action's two notifications.
    assert bus.reads == 1
    assert end["ip_addresses"][0]["nova_object.data"]["address"] == "10.0.0.5"


def test_what_the_action_read_or_holds_costs_no_read(bus: _Bus) -> None:
    ctx = nl_context.RequestContext(user_id="u1", project_id="p1")
    inst = _instance()
    with notifications.deferred():
        notifications.remember_network_info(inst.uuid, [VIF])
        notifications.step(ctx, inst, "compute_start_instance", "start")
        notifications.step(ctx, inst, "compute_start_instance", "end")
    notifications.instance_action(ctx, inst, "create", "end", network_info=[VIF],
                                  image_meta={"properties": {"os_type": "linux",
                                                             "hw_architecture": "x86_64",
                                                             "kernel_id": "k-1"}})
    assert bus.reads == 0
    assert [e for e, _ in bus.sent] == ["instance.power_on.start", "instance.power_on.end",
                                        "instance.create.end"]
    create = bus.sent[-1][1]
    assert (create["os_type"], create["architecture"], create["kernel_id"],
            create["ramdisk_id"]) == ("linux", "x86_64", "k-1", None)
    assert len(create["ip_addresses"]) == 1


def test_an_interface_steps_end_reads_the_addresses_again(bus: _Bus) -> None:
    ctx = nl_context.RequestContext(user_id="u1", project_id="p1")
    inst = _instance()
    with notifications.deferred():
        notifications.step(ctx, inst, "compute_attach_interface", "start")
        notifications.step(ctx, inst, "compute_attach_interface", "end")
    assert [e for e, _ in bus.sent] == ["instance.interface_attach.start",
                                        "instance.interface_attach.end"]
    assert bus.reads == 2


def test_without_an_action_scope_end_is_sent_at_once(bus: _Bus) -> None:
    ctx = nl_context.RequestContext(user_id="u1", project_id="p1")
    notifications.step(ctx, _instance(), "compute_live_migration_abort", "end")
    assert [e for e, _ in bus.sent] == ["instance.live_migration_abort.end"]
