"""The payloads of novalite's instance notifications: Nova's versioned
notification payloads, field for field, as oslo.versionedobjects.

``obj_to_primitive()`` gives Nova's envelope (``nova_object.name``,
``.namespace`` "nova", ``.version``, ``.data``), so a consumer written for
Nova's notifications (its samples in doc/notification_samples) reads
novalite's. The versions are Nova's current ones for the fields below.

Values novalite does not have at hand are Nova's "unknown": ``os_type``,
``architecture``, ``kernel_id`` and ``ramdisk_id`` come from the image's
properties where the action has them (the build: instance.create.*), else
null; ``progress`` is null (novalite keeps none), ``tags`` empty (compute
does not load them), ``block_devices`` null (Nova's ``[notifications]
bdms_in_notifications`` off). instance.create's ``keypairs`` is the
instance's key (name, public key, its MD5 fingerprint as Nova's).

NOTE: these classes are in no registry (``_payload`` gives each its field
properties as registering would): nothing reads a payload back into an
object, and the registry of what crosses novalite's RPC (its fingerprints)
stays as it is.
"""

from __future__ import annotations

import traceback as tb_module
from typing import TYPE_CHECKING, Any, TypeVar

from oslo_versionedobjects import base as ovo_base
from oslo_versionedobjects import fields

T = TypeVar("T")

# NOTE: Nova's InstancePowerStateField values, by the driver's power state.
POWER_STATES = {0: "pending", 1: "running", 3: "paused", 4: "shutdown", 6: "crashed",
                7: "suspended"}


def _payload(cls: type[T]) -> type[T]:
    # NOTE: what VersionedObjectRegistry.register does to a class, minus the
    # registry (fields inherited from the parents, one property per field).
    ovo_base._make_class_properties(cls)  # type: ignore[arg-type]
    return cls


class NotificationPayload(ovo_base.VersionedObject):
    """A payload in Nova's serialisation namespace."""

    OBJ_SERIAL_NAMESPACE = "nova_object"
    OBJ_PROJECT_NAMESPACE = "nova"

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    def primitive(self) -> dict[str, Any]:
        """Nova's envelope, without ``nova_object.changes`` (Nova's samples
        carry none)."""
        self.obj_reset_changes(recursive=True)
        return dict(self.obj_to_primitive())


@_payload
class FlavorPayload(NotificationPayload):
    VERSION = "1.4"
    fields = {
        "flavorid": fields.StringField(nullable=True),
        "memory_mb": fields.IntegerField(nullable=True),
        "vcpus": fields.IntegerField(nullable=True),
        "root_gb": fields.IntegerField(nullable=True),
        "ephemeral_gb": fields.IntegerField(nullable=True),
        "name": fields.StringField(),
        "swap": fields.IntegerField(),
        "rxtx_factor": fields.FloatField(nullable=True),
        "vcpu_weight": fields.IntegerField(nullable=True),
        "disabled": fields.BooleanField(),
        "is_public": fields.BooleanField(),
        "extra_specs": fields.DictOfStringsField(nullable=True),
        "projects": fields.ListOfStringsField(nullable=True),
        "description": fields.StringField(nullable=True),
    }

    @classmethod
    def from_flavor(cls, flavor: Any) -> FlavorPayload:
        def get(name: str, default: Any = None) -> Any:
            return getattr(flavor, name) if flavor.obj_attr_is_set(name) else default

        return cls(flavorid=get("flavorid"), memory_mb=get("memory_mb"), vcpus=get("vcpus"),
                   root_gb=get("root_gb"), ephemeral_gb=get("ephemeral_gb", 0),
                   name=get("name", ""), swap=get("swap", 0),
                   rxtx_factor=get("rxtx_factor", 1.0), vcpu_weight=None,
                   disabled=bool(get("disabled", False)), is_public=bool(get("is_public", True)),
                   extra_specs=dict(get("extra_specs", {}) or {}), projects=None,
                   description=get("description"))


@_payload
class IpPayload(NotificationPayload):
    VERSION = "1.0"
    fields = {
        "label": fields.StringField(),
        "mac": fields.MACAddressField(),
        "meta": fields.DictOfStringsField(),
        "port_uuid": fields.UUIDField(nullable=True),
        "version": fields.IntegerField(),
        "address": fields.IPV4AndV6AddressField(),
        "device_name": fields.StringField(nullable=True),
    }

    @classmethod
    def from_network_info(cls, network_info: list[dict[str, Any]]) -> list[IpPayload]:
        ips = []
        for vif in network_info:
            network = vif.get("network") or {}
            for subnet in network.get("subnets") or []:
                for ip in subnet.get("ips") or []:
                    ips.append(cls(label=str(network.get("label", "")), mac=vif["address"],
                                   meta={str(k): str(v) for k, v in
                                         (vif.get("meta") or {}).items()},
                                   port_uuid=vif.get("id"),
                                   version=int(ip.get("version") or subnet.get("version")
                                               or (6 if ":" in ip["address"] else 4)),
                                   address=ip["address"], device_name=vif.get("devname")))
        return ips


@_payload
class ExceptionPayload(NotificationPayload):
    VERSION = "1.1"
    fields = {
        "module_name": fields.StringField(),
        "function_name": fields.StringField(),
        "exception": fields.StringField(),
        "exception_message": fields.StringField(),
        "traceback": fields.StringField(),
    }

    @classmethod
    def from_exception(cls, exc: BaseException, message: str) -> ExceptionPayload:
        """As Nova's: where the exception was raised (the innermost frame)."""
        frames = tb_module.extract_tb(exc.__traceback__) if exc.__traceback__ else []
        last = frames[-1] if frames else None
        module = type(exc).__module__
        if last is not None:
            module = _module_of(last.filename) or module
        return cls(module_name=module, function_name=last.name if last else "",
                   exception=type(exc).__name__, exception_message=message,
                   traceback="".join(tb_module.format_exception(exc)))


def _module_of(filename: str) -> str | None:
    marker = "/novalite/"
    if marker not in filename:
        return None
    rel = "novalite/" + filename.rsplit(marker, 1)[1]
    return rel.removesuffix(".py").replace("/", ".")


@_payload
class InstancePayload(NotificationPayload):
    VERSION = "1.7"
    fields = {
        "uuid": fields.UUIDField(),
        "user_id": fields.StringField(nullable=True),
        "tenant_id": fields.StringField(nullable=True),
        "reservation_id": fields.StringField(nullable=True),
        "display_name": fields.StringField(nullable=True),
        "display_description": fields.StringField(nullable=True),
        "host_name": fields.StringField(nullable=True),
        "host": fields.StringField(nullable=True),
        "node": fields.StringField(nullable=True),
        "os_type": fields.StringField(nullable=True),
        "architecture": fields.StringField(nullable=True),
        "availability_zone": fields.StringField(nullable=True),
        "flavor": fields.ObjectField("FlavorPayload"),
        "image_uuid": fields.StringField(nullable=True),
        "key_name": fields.StringField(nullable=True),
        "kernel_id": fields.StringField(nullable=True),
        "ramdisk_id": fields.StringField(nullable=True),
        "created_at": fields.DateTimeField(nullable=True),
        "launched_at": fields.DateTimeField(nullable=True),
        "terminated_at": fields.DateTimeField(nullable=True),
        "deleted_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
        "state": fields.StringField(nullable=True),
        "power_state": fields.StringField(nullable=True),
        "task_state": fields.StringField(nullable=True),
        "progress": fields.IntegerField(nullable=True),
        "ip_addresses": fields.ListOfObjectsField("IpPayload"),
        "block_devices": fields.ListOfObjectsField("BlockDevicePayload", nullable=True),
        "metadata": fields.DictOfStringsField(),
        "locked": fields.BooleanField(),
        "auto_disk_config": fields.StringField(),
        "request_id": fields.StringField(nullable=True),
        "action_initiator_user": fields.StringField(nullable=True),
        "action_initiator_project": fields.StringField(nullable=True),
    }

    def fill(self, context: Any, instance: Any, network_info: list[dict[str, Any]]) -> None:
        """Nova's InstancePayload.__init__ + populate_schema."""
        def get(name: str, default: Any = None) -> Any:
            return getattr(instance, name) if instance.obj_attr_is_set(name) else default

        flavor = get("flavor")
        self.flavor = FlavorPayload.from_flavor(flavor) if flavor is not None else \
            FlavorPayload(name="", swap=0, disabled=False, is_public=True)
        self.ip_addresses = IpPayload.from_network_info(network_info)
        self.block_devices = None
        # NOTE: as Nova: no request id for periodic tasks (no user/project).
        user, project = getattr(context, "user_id", None), getattr(context, "project_id", None)
        self.request_id = getattr(context, "request_id", None) if user and project else None
        self.action_initiator_user = user
        self.action_initiator_project = project
        power = get("power_state")
        self.update(uuid=instance.uuid, user_id=get("user_id"), tenant_id=get("project_id"),
                    reservation_id=get("reservation_id"), display_name=get("display_name"),
                    display_description=get("display_description"),
                    host_name=get("hostname"), host=get("host"), node=get("node"),
                    os_type=None, architecture=None,
                    availability_zone=get("availability_zone"),
                    image_uuid=get("image_ref") or None, key_name=get("key_name"),
                    kernel_id=None, ramdisk_id=None, created_at=get("created_at"),
                    launched_at=get("launched_at"), terminated_at=get("terminated_at"),
                    deleted_at=get("deleted_at"), updated_at=get("updated_at"),
                    state=get("vm_state"),
                    power_state=POWER_STATES.get(power) if power is not None else None,
                    task_state=get("task_state"), progress=None,
                    metadata={str(k): str(v) for k, v in (get("metadata") or {}).items()},
                    locked=bool(get("locked", False)),
                    auto_disk_config="AUTO" if get("auto_disk_config") else "MANUAL")

    def update(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)

    def fill_image(self, image_meta: dict[str, Any]) -> None:
        """os_type, architecture, kernel_id, ramdisk_id from the image's
        properties (as Nova sets them on the instance at its build)."""
        props = image_meta.get("properties") or {}

        def prop(*names: str) -> str | None:
            for name in names:
                if props.get(name):
                    return str(props[name])
            return None

        self.update(os_type=prop("os_type"),
                    architecture=prop("hw_architecture", "architecture"),
                    kernel_id=prop("kernel_id"), ramdisk_id=prop("ramdisk_id"))


@_payload
class KeypairPayload(NotificationPayload):
    VERSION = "1.0"
    fields = {
        "user_id": fields.StringField(nullable=True),
        "name": fields.StringField(nullable=False),
        "fingerprint": fields.StringField(nullable=True),
        "public_key": fields.StringField(nullable=True),
        "type": fields.StringField(nullable=False),
    }

    @classmethod
    def from_instance(cls, instance: Any) -> list[KeypairPayload]:
        """The instance's key pair (its name and public key are on the
        instance: no read)."""
        def get(name: str) -> Any:
            return getattr(instance, name) if instance.obj_attr_is_set(name) else None

        name, key = get("key_name"), get("key_data")
        if not name:
            return []
        return [cls(user_id=get("user_id"), name=name, public_key=key,
                    fingerprint=_fingerprint(key) if key else None, type="ssh")]


def _fingerprint(public_key: str) -> str | None:
    """As Nova's ``crypto.generate_fingerprint`` for an ssh key: the MD5 of
    the key's blob, colon-separated hex."""
    import base64
    import binascii
    import hashlib

    parts = public_key.split()
    if len(parts) < 2:
        return None
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


@_payload
class InstanceActionPayload(InstancePayload):
    VERSION = "1.7"
    fields = {
        "fault": fields.ObjectField("ExceptionPayload", nullable=True),
        "request_id": fields.StringField(nullable=True),
    }


@_payload
class InstanceCreatePayload(InstanceActionPayload):
    VERSION = "1.11"
    fields = {
        "keypairs": fields.ListOfObjectsField("KeypairPayload"),
        "tags": fields.ListOfStringsField(),
        "trusted_image_certificates": fields.ListOfStringsField(nullable=True),
        "instance_name": fields.StringField(nullable=True),
    }

    def fill(self, context: Any, instance: Any, network_info: list[dict[str, Any]]) -> None:
        super().fill(context, instance, network_info)
        from novalite.virt.naming import instance_name

        self.update(keypairs=KeypairPayload.from_instance(instance), tags=[],
                    trusted_image_certificates=None,
                    instance_name=instance_name(instance)
                    if instance.obj_attr_is_set("id") else None)


@_payload
class InstanceActionVolumePayload(InstanceActionPayload):
    VERSION = "1.5"
    fields = {"volume_id": fields.UUIDField()}


@_payload
class InstanceActionSnapshotPayload(InstanceActionPayload):
    VERSION = "1.8"
    fields = {"snapshot_image_id": fields.UUIDField()}


@_payload
class InstanceActionRebuildPayload(InstanceActionPayload):
    VERSION = "1.8"
    fields = {"trusted_image_certificates": fields.ListOfStringsField(nullable=True)}

    def fill(self, context: Any, instance: Any, network_info: list[dict[str, Any]]) -> None:
        super().fill(context, instance, network_info)
        self.trusted_image_certificates = None


@_payload
class InstanceActionResizePrepPayload(InstanceActionPayload):
    VERSION = "1.2"
    fields = {"new_flavor": fields.ObjectField("FlavorPayload", nullable=True)}

    def fill(self, context: Any, instance: Any, network_info: list[dict[str, Any]]) -> None:
        super().fill(context, instance, network_info)
        new = instance.new_flavor if instance.obj_attr_is_set("new_flavor") else None
        self.new_flavor = FlavorPayload.from_flavor(new) if new is not None else None


@_payload
class InstanceActionRescuePayload(InstanceActionPayload):
    VERSION = "1.2"
    fields = {"rescue_image_ref": fields.UUIDField(nullable=True)}

    def fill(self, context: Any, instance: Any, network_info: list[dict[str, Any]]) -> None:
        super().fill(context, instance, network_info)
        self.rescue_image_ref = None
