"""The config drive: an ISO9660 volume labelled ``config-2`` in OpenStack's
layout, which the guest mounts to learn who it is, its network and its
files::

    openstack/<version>/meta_data.json     uuid, name, hostname, launch_index,
                                           availability_zone, public_keys, meta, files
    openstack/<version>/network_data.json  links, networks, services
    openstack/<version>/user_data          the request's user_data, decoded
    openstack/<version>/vendor_data*.json  (empty)
    openstack/content/0000 ...             the personality files' contents
    ec2/<version>/meta-data.json, user-data

for every version, as Nova writes it; the content is the metadata service's
(:mod:`novalite.metadata.content`).

It is built with genisoimage from a private temporary directory that this
module populates with names of its own choosing: no path a user gave is ever
used on the host (personality paths only appear inside meta_data.json).
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any

from oslo_concurrency import processutils

from novalite import exception, filemodes
from novalite.conf import CONF
from novalite.metadata import content

if TYPE_CHECKING:
    from novalite.objects.instance import Instance

VOLUME_LABEL = "config-2"
FILE_NAME = "disk.config"


def _b64(value: str, what: str, uuid: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise exception.InstanceSpawnError(instance_uuid=uuid,
                                           reason=f"{what} is not valid base64") from e


def injected_files(instance: Instance, files: list[dict[str, str]]) -> list[tuple[str, bytes]]:
    """The build request's personality files, checked and decoded."""
    out = []
    for f in files:
        path = str(f["path"])
        if not path.startswith("/") or ".." in path.split("/"):
            raise exception.InstanceSpawnError(
                instance_uuid=instance.uuid,
                reason=f"personality path {path!r} is not absolute or contains '..'")
        out.append((path, decode_contents(f, instance.uuid)))
    return out


def decode_contents(f: dict[str, Any], uuid: str) -> bytes:
    return _b64(str(f.get("contents", "")), f"contents of {f.get('path')}", uuid)


def _write(root: str, rel: str, data: bytes) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def populate(root: str, instance: Instance, network_info: list[dict[str, Any]],
             files_requested: list[dict[str, str]] | None = None) -> None:
    """Write the drive's files under ``root``: the metadata service's content
    (one builder for both, so they cannot differ) plus the personality files."""
    files = injected_files(instance, files_requested or [])
    if _get(instance, "user_data"):
        _b64(instance.user_data, "user_data", instance.uuid)
    md = content.InstanceMetadata(instance, network_info, files)
    for rel, data in md.config_drive_files():
        _write(root, rel, data)


def _get(instance: Instance, name: str) -> Any:
    return getattr(instance, name) if instance.obj_attr_is_set(name) else None


def make_drive(path: str, instance: Instance, network_info: list[dict[str, Any]],
               files: list[dict[str, str]] | None = None) -> str:
    """Build the ISO at ``path`` (with the build request's personality
    ``files``); returns it."""
    tmp = tempfile.mkdtemp(prefix="configdrive-")
    try:
        populate(tmp, instance, network_info, files)
        try:
            processutils.execute("genisoimage", "-o", path, "-ldots", "-allow-lowercase",
                                 "-allow-multidot", "-l", "-publisher", "novalite",
                                 "-quiet", "-J", "-r", "-V", VOLUME_LABEL, tmp)
        except (processutils.ProcessExecutionError, OSError) as e:
            raise exception.InstanceSpawnError(
                instance_uuid=instance.uuid,
                reason=f"genisoimage could not build the config drive: {e}") from e
        # NOTE: it holds user_data and injected files; libvirt chowns it to
        # QEMU's user when the domain starts.
        filemodes.make_private(path)
        return path
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def required(instance: Instance) -> bool:
    return bool(CONF.compute.force_config_drive or _get(instance, "config_drive"))
