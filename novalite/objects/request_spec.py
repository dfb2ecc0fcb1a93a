"""RequestSpec and what it carries: one build request's needs, as the API
recorded them and the conductor, scheduler and compute read them.

Modelled on Nova's objects (``RequestSpec``, ``ImageMeta``,
``NetworkRequest(List)``, ``SchedulerRetries``), with novalite's fields only.
The spec is persisted (table ``request_specs``, one row per instance, the
object's primitive as JSON, as Nova's API database keeps it) so that a
reschedule, or a network allocation run by the conductor for compute, reads
the request as it was made, also after any service restarted.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from oslo_utils import versionutils
from oslo_versionedobjects import fields

from novalite.db import request_specs as db
from novalite.objects import base
from novalite.objects.flavor import Flavor

if TYPE_CHECKING:
    from novalite.context import RequestContext

# NOTE: Nova's special network ids: "auto" allocates from the default
# network, "none" allocates nothing (compute API 2.37).
NETWORK_ID_AUTO = "auto"
NETWORK_ID_NONE = "none"

GiB = 1024 ** 3

# NOTE: the image keys a driver reads (the shape image_api.get returns).
_IMAGE_KEYS = ("id", "name", "disk_format", "container_format", "size", "virtual_size",
               "min_ram", "min_disk", "checksum", "os_hash_algo", "os_hash_value")


def _property_text(value: Any) -> str | None:
    """Glance properties are strings; anything else is kept as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


@base.register
class ImageMeta(base.NovaliteObject):
    """The image a build uses, as the image API described it at create time."""

    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "id": fields.StringField(nullable=True),
        "name": fields.StringField(nullable=True),
        "disk_format": fields.StringField(nullable=True),
        "container_format": fields.StringField(nullable=True),
        "size": fields.IntegerField(nullable=True),
        "virtual_size": fields.IntegerField(nullable=True),
        "min_ram": fields.IntegerField(default=0),
        "min_disk": fields.IntegerField(default=0),
        "checksum": fields.StringField(nullable=True),
        "os_hash_algo": fields.StringField(nullable=True),
        "os_hash_value": fields.StringField(nullable=True),
        "properties": fields.DictOfNullableStringsField(default={}),
    }

    @classmethod
    def from_image(cls, image: dict[str, Any]) -> ImageMeta:
        """From the image API's dict (``image_api.API().get``)."""
        meta = cls()
        for key in _IMAGE_KEYS:
            value = image.get(key)
            if key in ("min_ram", "min_disk"):
                value = int(value or 0)
            setattr(meta, key, value)
        meta.properties = {str(k): _property_text(v)
                           for k, v in (image.get("properties") or {}).items()}
        return meta

    def to_dict(self) -> dict[str, Any]:
        """The image as the driver contract takes it (``spawn(image_meta=...)``)."""
        out: dict[str, Any] = {k: getattr(self, k) if self.obj_attr_is_set(k) else None
                               for k in _IMAGE_KEYS}
        out["properties"] = dict(self.properties) if self.obj_attr_is_set("properties") else {}
        return out


@base.register
class NetworkRequest(base.NovaliteObject):
    """One entry of a create request's ``networks``: a network by uuid, a
    fixed IP, or both; or the whole request's ``auto``/``none``."""

    # Version 1.0: Initial version
    # Version 1.1: port_id (a port the user made, given with --nic port-id=)
    VERSION = "1.1"

    fields = {
        "network_id": fields.StringField(nullable=True),
        "address": fields.IPAddressField(nullable=True),
        "port_id": fields.UUIDField(nullable=True),
    }

    def obj_make_compatible(self, primitive: dict[str, Any], target_version: str) -> None:
        super().obj_make_compatible(primitive, target_version)
        if versionutils.convert_version_to_tuple(target_version) < (1, 1):
            primitive.pop("port_id", None)

    @property
    def auto_allocate(self) -> bool:
        return bool(self.network_id == NETWORK_ID_AUTO)

    @property
    def no_allocate(self) -> bool:
        return bool(self.network_id == NETWORK_ID_NONE)

    def to_legacy(self) -> dict[str, str | None]:
        """``{uuid, fixed_ip}`` (and ``port`` when one is given), the API's
        entry shape."""
        address = self.address if self.obj_attr_is_set("address") else None
        out = {"uuid": self.network_id if self.obj_attr_is_set("network_id") else None,
               "fixed_ip": None if address is None else str(address)}
        port = self.port_id if self.obj_attr_is_set("port_id") else None
        if port:
            out["port"] = str(port)
        return out


@base.register
class NetworkRequestList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("NetworkRequest")}

    @classmethod
    def from_api(cls, requested: str | list[dict[str, Any]] | None) -> NetworkRequestList:
        """From the API's ``networks``: ``"auto"`` (also when absent),
        ``"none"`` or a list of ``{uuid, fixed_ip}``."""
        lst = cls()
        if not requested or requested == NETWORK_ID_AUTO:
            lst.objects = [NetworkRequest(network_id=NETWORK_ID_AUTO, address=None)]
        elif requested == NETWORK_ID_NONE:
            lst.objects = [NetworkRequest(network_id=NETWORK_ID_NONE, address=None)]
        elif isinstance(requested, list):
            lst.objects = [NetworkRequest(network_id=r.get("uuid"), address=r.get("fixed_ip"),
                                          port_id=r.get("port"))
                           for r in requested]
        else:
            raise ValueError(f"requested networks {requested!r} are not understood")
        return lst

    @property
    def auto_allocate(self) -> bool:
        return len(self.objects) == 1 and bool(self.objects[0].auto_allocate)

    @property
    def no_allocate(self) -> bool:
        return len(self.objects) == 1 and bool(self.objects[0].no_allocate)

    def to_legacy(self) -> str | list[dict[str, str | None]]:
        """``"auto"``, ``"none"`` or ``[{uuid, fixed_ip}]``: what the network
        API allocates from."""
        if self.auto_allocate:
            return NETWORK_ID_AUTO
        if self.no_allocate:
            return NETWORK_ID_NONE
        return [r.to_legacy() for r in self.objects]


@base.register
class SchedulerRetries(base.NovaliteObject):
    """The hosts a build was already sent to (each failed there)."""

    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "num_attempts": fields.IntegerField(default=0),
        "hosts": fields.ListOfStringsField(default=[]),
    }


@base.register
class InjectedFile(base.NovaliteObject):
    """A personality file of a create request: absolute path, base64 contents."""

    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "path": fields.StringField(),
        "contents": fields.StringField(default=""),
    }


@base.register
class InjectedFileList(base.ObjectListBase, base.NovaliteObject):
    """The files a build puts on the config drive (and through the guest
    agent): they travel with the build request only, as in Nova, and are
    not recorded."""

    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("InjectedFile")}

    @classmethod
    def from_api(cls, files: list[dict[str, Any]] | None) -> InjectedFileList:
        lst = cls()
        lst.objects = [InjectedFile(path=str(f["path"]), contents=str(f.get("contents") or ""))
                       for f in files or []]
        return lst

    def to_dicts(self) -> list[dict[str, str]]:
        """``[{path, contents}]``, what the driver contract takes."""
        return [{"path": f.path, "contents": f.contents} for f in self.objects]


@base.register
class RequestSpec(base.NovaliteObject):
    """One build request (for ``num_instances`` instances of one flavor)."""

    # Version 1.0: Initial version
    # Version 1.1: get_by_instance_uuids (the server views of microversions 2.96+)
    VERSION = "1.1"

    fields = {
        "id": fields.IntegerField(),
        "instance_uuid": fields.UUIDField(nullable=True),
        "project_id": fields.StringField(nullable=True),
        "user_id": fields.StringField(nullable=True),
        "flavor": fields.ObjectField("Flavor"),
        "image": fields.ObjectField("ImageMeta"),
        "requested_networks": fields.ObjectField("NetworkRequestList"),
        "scheduler_hints": fields.DictOfListOfStringsField(default={}),
        "retry": fields.ObjectField("SchedulerRetries", nullable=True),
        "availability_zone": fields.StringField(nullable=True),
        # NOTE: novalite has no server groups yet; the field is Nova's slot
        # (the group's uuid) so adding them is a new field of InstanceGroup
        # type in a later version, not a new contract.
        "instance_group": fields.UUIDField(nullable=True),
        "ignore_hosts": fields.ListOfStringsField(default=[]),
        "num_instances": fields.IntegerField(default=1),
    }

    @classmethod
    def from_components(cls, context: RequestContext, *, flavor: Flavor,
                        image: dict[str, Any],
                        requested_networks: NetworkRequestList | None = None,
                        availability_zone: str | None = None, num_instances: int = 1,
                        scheduler_hints: dict[str, list[str]] | None = None) -> RequestSpec:
        """A new spec for a create request (not yet recorded)."""
        spec = cls(context=context)
        spec.instance_uuid = None
        spec.project_id = context.project_id
        spec.user_id = context.user_id
        spec.flavor = flavor
        spec.image = ImageMeta.from_image(image)
        spec.requested_networks = requested_networks or NetworkRequestList.from_api("auto")
        spec.availability_zone = availability_zone
        spec.num_instances = num_instances
        spec.scheduler_hints = dict(scheduler_hints or {})
        spec.retry = None
        spec.instance_group = None
        spec.ignore_hosts = []
        return spec

    # -- what the scheduler places ---------------------------------------------

    @property
    def memory_mb(self) -> int:
        return int(self.flavor.memory_mb)

    @property
    def vcpus(self) -> int:
        return int(self.flavor.vcpus)

    @property
    def root_gb(self) -> int:
        """The root disk: the flavor's, or for a 0 GB flavor the image's
        virtual size rounded up to GiB (Nova places 0 there, and the host
        fills up)."""
        root = int(self.flavor.root_gb)
        size = self.image.virtual_size if self.obj_attr_is_set("image") else None
        if root or not size:
            return root
        return -(-int(size) // GiB)

    @property
    def disk_gb(self) -> int:
        """Local disk the instance takes: swap is on local disk too, rounded up to GiB."""
        return (self.root_gb + int(self.flavor.ephemeral_gb or 0)
                + math.ceil(int(self.flavor.swap or 0) / 1024))

    @property
    def flavor_name(self) -> str:
        """The flavor's name; empty in internal calls that gave none."""
        return str(self.flavor.name or "") if self.flavor.obj_attr_is_set("name") else ""

    @property
    def flavor_label(self) -> str:
        """How messages name the flavor."""
        return f"flavor '{self.flavor_name}'" if self.flavor_name else "the flavor"

    def hosts_to_avoid(self) -> list[str]:
        """Hosts a previous attempt failed on, and hosts asked to be ignored."""
        tried = list(self.retry.hosts) if self.obj_attr_is_set("retry") and self.retry else []
        return sorted(set(tried) | set(self.ignore_hosts))

    def for_instance(self, instance_uuid: str) -> RequestSpec:
        """This spec as recorded for one instance of the request."""
        spec: RequestSpec = self.obj_clone()
        spec.instance_uuid = instance_uuid
        spec._context = self._context
        return spec

    # -- older senders and receivers (scheduler 1.0, conductor 1.0/1.1,
    #    compute 6.0/6.1 sent and took a dict) ---------------------------------

    def to_legacy_dict(self) -> dict[str, Any]:
        """The dict an older service expects."""
        return {
            "instance_uuid": self.instance_uuid, "flavor_memory_mb": self.memory_mb,
            "flavor_vcpus": self.vcpus, "flavor_root_gb": self.root_gb,
            "flavor_ephemeral_gb": int(self.flavor.ephemeral_gb or 0),
            "flavor_swap_mb": int(self.flavor.swap or 0),
            "flavor_name": self.flavor_name,
            "availability_zone": self.availability_zone,
            "ignore_hosts": self.hosts_to_avoid(), "num_instances": self.num_instances,
            "image": self.image.to_dict(),
        }

    @classmethod
    def from_legacy_dict(cls, context: RequestContext | None,
                         data: dict[str, Any]) -> RequestSpec:
        """From an older sender's dict (unknown keys ignored, missing
        optional ones defaulted)."""
        flavor = Flavor(memory_mb=int(data["flavor_memory_mb"]),
                        vcpus=int(data["flavor_vcpus"]),
                        root_gb=int(data["flavor_root_gb"]),
                        ephemeral_gb=int(data.get("flavor_ephemeral_gb") or 0),
                        swap=int(data.get("flavor_swap_mb") or 0),
                        name=str(data.get("flavor_name") or ""))
        spec = cls(context=context)
        spec.instance_uuid = data.get("instance_uuid")
        spec.project_id = None
        spec.user_id = None
        spec.flavor = flavor
        # NOTE: the dict's flavor_root_gb already is the placed root disk.
        image = dict(data.get("image") or {})
        image["virtual_size"] = None
        spec.image = ImageMeta.from_image(image)
        spec.requested_networks = NetworkRequestList.from_api("auto")
        spec.scheduler_hints = {}
        spec.retry = None
        spec.instance_group = None
        spec.availability_zone = data.get("availability_zone")
        spec.ignore_hosts = list(data.get("ignore_hosts") or [])
        spec.num_instances = int(data.get("num_instances") or 1)
        return spec

    @classmethod
    def coerce(cls, context: RequestContext | None,
               value: RequestSpec | dict[str, Any] | None) -> RequestSpec | None:
        """A receiver's view of what a current or an older sender sent
        (None for none, or an empty dict)."""
        if not value:
            return None
        if isinstance(value, RequestSpec):
            return value
        return cls.from_legacy_dict(context, value)

    # -- persistence ---------------------------------------------------------------

    def _spec_json(self) -> str:
        primitive = self.obj_to_primitive()
        primitive["novalite_object.data"].pop("id", None)
        return json.dumps(primitive, sort_keys=True)

    @classmethod
    def _from_db_row(cls, context: RequestContext | None, row: dict[str, Any]) -> RequestSpec:
        spec = cls.obj_from_primitive(json.loads(row["spec"]), context=context)
        assert isinstance(spec, RequestSpec)
        spec.id = row["id"]
        spec.instance_uuid = row["instance_uuid"]
        spec._context = context
        spec.obj_reset_changes(recursive=True)
        return spec

    @base.remotable
    def create(self) -> None:
        """Record the spec of ``instance_uuid`` (one per instance)."""
        row = db.request_spec_create(self.instance_uuid, self._spec_json())
        self.id = row["id"]
        self.obj_reset_changes(recursive=True)

    @base.remotable
    def save(self) -> None:
        """Store the whole spec again (a reschedule's retry, for example)."""
        db.request_spec_update(self.instance_uuid, self._spec_json())
        self.obj_reset_changes(recursive=True)

    @classmethod
    @base.remotable
    def get_by_instance_uuid(cls, context: RequestContext, instance_uuid: str) -> RequestSpec:
        """RequestSpecNotFound when the instance has none."""
        return cls._from_db_row(context, db.request_spec_get_by_instance_uuid(instance_uuid))

    @classmethod
    @base.remotable
    def get_by_instance_uuids(cls, context: RequestContext,
                              instance_uuids: list[str]) -> dict[str, RequestSpec]:
        """``{instance_uuid: spec}`` in one query; instances without a spec are left out."""
        rows = db.request_specs_get_by_instance_uuids(list(instance_uuids))
        return {row["instance_uuid"]: cls._from_db_row(context, row) for row in rows}

    @classmethod
    @base.remotable
    def destroy_by_instance_uuid(cls, context: RequestContext, instance_uuid: str) -> None:
        db.request_spec_destroy_by_instance_uuid(instance_uuid)


__all__ = ["ImageMeta", "InjectedFile", "InjectedFileList", "NetworkRequest", "NetworkRequestList", "RequestSpec",
           "SchedulerRetries"]
