"""The config drive: an ISO9660 volume labelled ``config-2`` in OpenStack's
layout, which the guest mounts to learn who it is, its network and its
files::

    openstack/latest/meta_data.json     uuid, name, hostname, launch_index,
                                        availability_zone, public_keys, meta, files
    openstack/latest/network_data.json  links, networks, services
    openstack/latest/user_data          the request's user_data, decoded
    openstack/content/0000 ...          the personality files' contents

It is built with genisoimage from a private temporary directory that this
module populates with names of its own choosing: no path a user gave is ever
used on the host (personality paths only appear inside meta_data.json).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any

from oslo_concurrency import processutils

from novalite import exception, filemodes
from novalite.conf import CONF
from novalite.network import model as network_model

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


def _get(instance: Instance, name: str) -> Any:
    return getattr(instance, name) if instance.obj_attr_is_set(name) else None


def metadata(instance: Instance, files: list[tuple[str, bytes]]) -> dict[str, Any]:
    keys = {}
    key_name = _get(instance, "key_name")
    key_data = _get(instance, "key_data")
    if key_name and key_data:
        keys[key_name] = key_data
    return {
        "uuid": instance.uuid,
        "name": _get(instance, "display_name") or "",
        "hostname": _get(instance, "hostname") or "",
        "launch_index": _get(instance, "launch_index") or 0,
        "availability_zone": (_get(instance, "availability_zone")
                              or CONF.default_availability_zone),
        "project_id": _get(instance, "project_id") or "",
        "public_keys": keys,
        "keys": [{"name": k, "type": "ssh", "data": v} for k, v in keys.items()],
        "meta": dict(_get(instance, "metadata") or {}),
        "files": [{"path": path, "content_path": f"/content/{i:04d}"}
                  for i, (path, _data) in enumerate(files)],
        "devices": [],
    }


def _write(root: str, rel: str, data: bytes) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def populate(root: str, instance: Instance, network_info: list[dict[str, Any]],
             files_requested: list[dict[str, str]] | None = None) -> None:
    files = injected_files(instance, files_requested or [])
    latest = "openstack/latest"
    _write(root, f"{latest}/meta_data.json",
           json.dumps(metadata(instance, files), sort_keys=True).encode())
    _write(root, f"{latest}/network_data.json",
           json.dumps(network_model.network_data(network_info)).encode())
    user_data = _get(instance, "user_data")
    if user_data:
        _write(root, f"{latest}/user_data", _b64(user_data, "user_data", instance.uuid))
    for i, (_path, data) in enumerate(files):
        _write(root, f"openstack/content/{i:04d}", data)


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
