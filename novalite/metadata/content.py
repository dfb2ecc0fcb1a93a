"""One instance's metadata, as Nova's ``nova/api/metadata/base.py`` shapes
it: the OpenStack tree (``openstack/<version>/meta_data.json``,
``network_data.json``, ``user_data``, ``vendor_data.json``,
``vendor_data2.json``, ``password``) and the EC2 tree (``<version>/meta-data/``,
``<version>/user-data``).

Both the config drive (:mod:`novalite.virt.configdrive`) and the metadata
service (:mod:`novalite.metadata.handler`) take their content from
:class:`InstanceMetadata`, so the two cannot drift apart. It reads no
database: the caller gives the instance, its ``network_info`` and the
personality files (known only at build time, so only a config drive has them,
as in Nova).

NOTE: Nova's ``random_seed`` (512 random bytes in every meta_data.json) is
left out: it would make the config drive and the service differ on every
read, and the guest's kernel has its own entropy sources.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from oslo_utils import timeutils

from novalite.conf import CONF
from novalite.network import model as network_model

if TYPE_CHECKING:
    from novalite.objects.instance import Instance

EC2_VERSIONS = ["1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10",
                "2007-12-15", "2008-02-01", "2008-09-01", "2009-04-04"]
FOLSOM, GRIZZLY, HAVANA, LIBERTY = "2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15"
NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY = "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27"
VICTORIA, EPOXY = "2020-10-14", "2025-04-04"
OPENSTACK_VERSIONS = [FOLSOM, GRIZZLY, HAVANA, LIBERTY, NEWTON_ONE, NEWTON_TWO, OCATA,
                      ROCKY, VICTORIA, EPOXY]

MD_JSON, NW_JSON, UD = "meta_data.json", "network_data.json", "user_data"
VD_JSON, VD2_JSON, PASSWORD = "vendor_data.json", "vendor_data2.json", "password"
CONTENT_DIR = "content"
TEXT, JSON = "text/plain", "application/json"

# Nova keeps a password the guest posts as four system_metadata chunks.
PASSWORD_CHUNKS, PASSWORD_CHUNK_LENGTH = 4, 255
PASSWORD_MAX = PASSWORD_CHUNKS * PASSWORD_CHUNK_LENGTH

# An answer: bytes, a listing, an EC2 subtree, or the password marker.
Tree = dict[str, Any]
Value = bytes | str | list[str] | Tree


class NotFound(Exception):
    """No such metadata path (the service answers 404)."""


class PasswordPath(Exception):
    """The path is ``openstack/<version>/password``: GET reads, POST sets
    it, which needs the database (the handler does it)."""


def _get(instance: Instance, name: str) -> Any:
    return getattr(instance, name) if instance.obj_attr_is_set(name) else None


def _after(required: str, version: str, versions: list[str]) -> bool:
    return versions.index(version) >= versions.index(required)


def password_of(instance: Instance) -> str:
    sysmeta: dict[str, str | None] = _get(instance, "system_metadata") or {}
    return "".join(sysmeta[k] or "" for k in sorted(sysmeta) if k.startswith("password_"))


def password_chunks(password: str) -> dict[str, str]:
    """``password`` as the system_metadata items Nova stores it in."""
    return {f"password_{i}": password[i * PASSWORD_CHUNK_LENGTH:(i + 1) * PASSWORD_CHUNK_LENGTH]
            for i in range(PASSWORD_CHUNKS)}


class InstanceMetadata:
    """Everything one instance may read about itself."""

    def __init__(self, instance: Instance, network_info: list[dict[str, Any]],
                 files: list[tuple[str, bytes]] | None = None,
                 address: str | None = None) -> None:
        self.instance = instance
        self.network_info = network_info or []
        self.address = address
        self.files = [{"path": path, "content_path": f"/{CONTENT_DIR}/{i:04d}"}
                      for i, (path, _data) in enumerate(files or [])]
        self.content = {f"{i:04d}": data for i, (_path, data) in enumerate(files or [])}
        raw = _get(instance, "user_data")
        try:
            self.userdata: bytes | None = (base64.b64decode(raw, validate=True)
                                           if raw is not None else None)
        except (binascii.Error, ValueError):
            # NOTE: the API checked it; a row that is not base64 anyway is
            # served as Nova's decode would refuse it: not at all.
            self.userdata = None

    # -- shared values ---------------------------------------------------------

    @property
    def hostname(self) -> str:
        name = _get(self.instance, "hostname") or ""
        return f"{name}.{CONF.metadata.dhcp_domain}" if CONF.metadata.dhcp_domain else name

    @property
    def availability_zone(self) -> str:
        return str(_get(self.instance, "availability_zone") or CONF.default_availability_zone)

    def _key(self) -> tuple[str, str] | None:
        name, data = _get(self.instance, "key_name"), _get(self.instance, "key_data")
        return (name, data) if name and data else None

    def _addresses(self, kind: str) -> list[str]:
        out = []
        for vif in self.network_info:
            for ip in network_model.fixed_ips(vif):
                if ip.get("version", 4) != 4:
                    continue
                if kind == "fixed":
                    out.append(ip["address"])
                else:
                    out.extend(f["address"] for f in ip.get("floating_ips") or [])
        return out

    # -- the OpenStack tree ------------------------------------------------------

    def meta_data(self, version: str) -> dict[str, Any]:
        """``meta_data.json`` at ``version`` (a dated version)."""
        md: dict[str, Any] = {"uuid": self.instance.uuid}
        meta = dict(_get(self.instance, "metadata") or {})
        if meta:
            md["meta"] = meta
        if self.files:
            md["files"] = self.files
        key = self._key()
        if key:
            md["public_keys"] = {key[0]: key[1]}
            md["keys"] = [{"name": key[0], "type": "ssh", "data": key[1]}]
        md["hostname"] = self.hostname
        md["name"] = _get(self.instance, "display_name") or ""
        md["launch_index"] = _get(self.instance, "launch_index") or 0
        md["availability_zone"] = self.availability_zone
        if _after(LIBERTY, version, OPENSTACK_VERSIONS):
            md["project_id"] = _get(self.instance, "project_id") or ""
        if _after(NEWTON_ONE, version, OPENSTACK_VERSIONS):
            md["devices"] = []
        if _after(VICTORIA, version, OPENSTACK_VERSIONS):
            md["dedicated_cpus"] = []
        return md

    def _version_listing(self, version: str) -> list[str]:
        names = [MD_JSON]
        if self.userdata is not None:
            names.append(UD)
        for required, name in ((GRIZZLY, PASSWORD), (HAVANA, VD_JSON), (LIBERTY, NW_JSON),
                               (NEWTON_TWO, VD2_JSON)):
            if _after(required, version, OPENSTACK_VERSIONS):
                names.append(name)
        return names

    def openstack_item(self, tokens: list[str]) -> tuple[Value, str]:
        if tokens[0] == CONTENT_DIR:
            if len(tokens) != 2 or tokens[1] not in self.content:
                raise NotFound("/".join(tokens))
            return self.content[tokens[1]], TEXT
        version = OPENSTACK_VERSIONS[-1] if tokens[0] == "latest" else tokens[0]
        if version not in OPENSTACK_VERSIONS:
            raise NotFound(tokens[0])
        name = "/".join(tokens[1:])
        dumps: Callable[[Any], bytes] = lambda v: json.dumps(v).encode()  # noqa: E731
        if not name:
            return self._version_listing(version), TEXT
        if name == MD_JSON:
            return dumps(self.meta_data(version)), JSON
        if name == UD and self.userdata is not None:
            return self.userdata, TEXT
        if name == PASSWORD and _after(GRIZZLY, version, OPENSTACK_VERSIONS):
            raise PasswordPath(name)
        if name == VD_JSON and _after(HAVANA, version, OPENSTACK_VERSIONS):
            return dumps({}), JSON
        if name == NW_JSON and _after(LIBERTY, version, OPENSTACK_VERSIONS):
            return dumps(network_model.network_data(self.network_info)), TEXT
        if name == VD2_JSON and _after(NEWTON_TWO, version, OPENSTACK_VERSIONS):
            return dumps({"static": {}}), JSON
        raise NotFound(name)

    # -- the EC2 tree --------------------------------------------------------------

    def ec2_metadata(self, version: str) -> Tree:
        if version == "latest":
            version = EC2_VERSIONS[-1]
        if version not in EC2_VERSIONS:
            raise NotFound(version)
        inst = self.instance
        fixed, floating = self._addresses("fixed"), self._addresses("floating")
        md: Tree = {
            "ami-id": ec2_id("ami", _get(inst, "image_ref") or ""),
            "ami-launch-index": _get(inst, "launch_index") or 0,
            "ami-manifest-path": "FIXME",
            "instance-id": f"i-{_get(inst, 'id') or 0:08x}",
            "hostname": self.hostname,
            "local-ipv4": fixed[0] if fixed else (self.address or ""),
            "reservation-id": _get(inst, "reservation_id") or "",
            # NOTE: every server is in Neutron's "default" group until
            # novalite has security groups of its own.
            "security-groups": ["default"],
        }
        key = self._key()
        if key:
            md["public-keys"] = {"0": {"_name": f"0={key[0]}", "openssh-key": key[1]}}
        if _after("2007-01-19", version, EC2_VERSIONS):
            md["local-hostname"] = self.hostname
            md["public-hostname"] = self.hostname
            md["public-ipv4"] = floating[0] if floating else ""
        if _after("2007-08-29", version, EC2_VERSIONS):
            flavor = _get(inst, "flavor")
            md["instance-type"] = flavor.name if flavor is not None else ""
        if _after("2007-12-15", version, EC2_VERSIONS):
            md["block-device-mapping"] = {"ami": "vda", "root": "/dev/vda"}
        if _after("2008-02-01", version, EC2_VERSIONS):
            md["placement"] = {"availability-zone": self.availability_zone}
        if _after("2008-09-01", version, EC2_VERSIONS):
            md["instance-action"] = "none"
        data: Tree = {"meta-data": md}
        if self.userdata is not None:
            data["user-data"] = self.userdata
        return data

    # -- paths --------------------------------------------------------------------

    def lookup(self, path: str) -> tuple[Value, str]:
        """The value at a request path and its content type. Raises
        NotFound, or PasswordPath for ``openstack/<version>/password``."""
        path = posixpath.normpath("/" + path.lstrip("/"))
        tokens = path.split("/")[1:]
        if tokens[0] not in ("ec2", "openstack"):
            tokens = ["ec2"] if tokens[0] == "" else ["ec2", *tokens]
        if len(tokens) == 1:
            if tokens[0] == "openstack":
                today = timeutils.utcnow().strftime("%Y-%m-%d")
                return [v for v in OPENSTACK_VERSIONS if v <= today] + ["latest"], TEXT
            return EC2_VERSIONS + ["latest"], TEXT
        if tokens[0] == "openstack":
            return self.openstack_item(tokens[1:])
        return _find(self.ec2_metadata(tokens[1]), tokens[2:]), TEXT

    def config_drive_files(self) -> Iterator[tuple[str, bytes]]:
        """Every file of the config drive, (relative path, content), as
        Nova's ``metadata_for_config_drive``: both trees at every version."""
        for version in [*EC2_VERSIONS, "latest"]:
            data = self.ec2_metadata(version)
            if "user-data" in data:
                userdata: bytes = data.pop("user-data")
                yield f"ec2/{version}/user-data", userdata
            md = data["meta-data"]
            if "public-keys" in md:
                md["public-keys"]["0"].pop("_name", None)
            yield f"ec2/{version}/meta-data.json", json.dumps(md).encode()
        for version in [*OPENSTACK_VERSIONS, "latest"]:
            for name in self._version_listing(
                    OPENSTACK_VERSIONS[-1] if version == "latest" else version):
                if name == PASSWORD:
                    continue
                value, _mime = self.openstack_item([version, name])
                assert isinstance(value, bytes)
                yield f"openstack/{version}/{name}", value
        for cid, blob in self.content.items():
            yield f"openstack/{CONTENT_DIR}/{cid}", blob


def ec2_id(prefix: str, uuid: str) -> str:
    """An EC2-style id for a uuid: the prefix and its first 8 hex digits.
    NOTE: Nova maps uuids to integers in a table of its own; novalite has
    none, and the first 32 bits of a random uuid are as unique in practice."""
    hexdigits = uuid.replace("-", "")[:8].lower()
    try:
        int(hexdigits, 16)
    except ValueError:
        hexdigits = "00000000"
    return f"{prefix}-{hexdigits.rjust(8, '0')}"


def _find(data: Any, tokens: list[str]) -> Value:
    for i, token in enumerate(tokens):
        if isinstance(data, dict) and token in data:
            data = data[token]
        else:
            raise NotFound("/".join(tokens[:i + 1]))
    return data  # type: ignore[no-any-return]


def render(value: Value) -> bytes:
    """A value as the service answers it (Nova's ``ec2_md_print``): a
    dict lists its keys (a subtree as ``key/``, or its ``_name``), a list
    one item a line."""
    if isinstance(value, dict):
        lines = []
        for key in sorted(value):
            if key == "_name":
                continue
            sub = value[key]
            if isinstance(sub, dict):
                lines.append(str(sub["_name"]) if "_name" in sub else key + "/")
            else:
                lines.append(key)
        return "\n".join(lines).encode()
    if isinstance(value, list):
        return "\n".join(str(v) for v in value).encode()
    if isinstance(value, bytes):
        return value
    return str(value).encode()
