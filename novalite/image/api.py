"""Image store: records in the database, files under ``state_path/images``.

Uploads are streamed in chunks and hashed on the way (md5 checksum and
sha512 ``os_hash_value``), never held whole in memory; downloads are
streamed the same way (compute hosts fetch images over HTTP, verifying the
hash as they go).

Who sees what follows Glance: public and community images are visible to
all, private ones to their owner project and to admins, shared ones also to
the projects they are offered to (image members, whatever their answer;
lists show a member only the images it accepted unless it asks for another
``member_status``); an image the caller cannot see does not exist for them
(ImageNotFound). Only the owner or an admin changes, uploads to, shares or
deletes an image; only the member (or an admin) answers an offer. Status follows Glance: queued → saving → active, killed
when an upload fails, deleted when deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from oslo_log import log as logging
from sqlalchemy import exc as sa_exc

from novalite import exception, filemodes
from novalite.conf import CONF
from novalite.db import api as db
from novalite.db import images as db_images
from novalite.image import quota

LOG = logging.getLogger(__name__)

DISK_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "iso", "vhd", "vhdx", "ami", "ari", "aki",
                "ploop")
CONTAINER_FORMATS = ("bare", "ovf", "ova", "aki", "ari", "ami", "docker", "compressed")
VISIBILITIES = ("public", "private", "shared", "community")
STATUSES = ("queued", "saving", "active", "killed", "deleted", "pending_delete",
            "deactivated", "uploading", "importing")
CHUNK = 1024 * 1024
MEMBER_STATUSES = ("pending", "accepted", "rejected")
# NOTE: Glance's default image_member_quota.
MEMBER_QUOTA = 128

_PUBLIC = ("id", "name", "status", "disk_format", "container_format", "size", "checksum",
           "os_hash_algo", "os_hash_value", "min_ram", "min_disk", "visibility", "owner",
           "protected", "created_at", "updated_at")
# NOTE: Glance core attributes without a column of their own live in the
# properties JSON under their own names, which Glance never allows as
# custom property names, so they cannot collide with one.
_STORED_IN_PROPERTIES = ("tags", "os_hidden", "virtual_size")
_QCOW2_MAGIC = b"QFI\xfb"
# NOTE: list filters that match an attribute exactly, as Glance's.
_EXACT_FILTERS = ("disk_format", "container_format", "checksum", "os_hash_value", "size")
# NOTE: create's default owner: the caller's project (None is an owner too).
_CALLER = object()


def _view(row: dict) -> dict:
    out = {k: row.get(k) for k in _PUBLIC if k != "id"}
    out["id"] = row["uuid"]
    properties = dict(row.get("properties") or {})
    out["tags"] = list(properties.pop("tags", None) or [])
    out["os_hidden"] = bool(properties.pop("os_hidden", False))
    out["virtual_size"] = properties.pop("virtual_size", None)
    out["protected"] = bool(row.get("protected"))
    out["properties"] = properties
    return out


def _stored_properties(image: dict) -> dict:
    stored = dict(image.get("properties") or {})
    if image.get("tags"):
        stored["tags"] = list(image["tags"])
    if image.get("os_hidden"):
        stored["os_hidden"] = True
    if image.get("virtual_size") is not None:
        stored["virtual_size"] = image["virtual_size"]
    return stored


def virtual_size(path: str, disk_format: str | None, size: int) -> int | None:
    """The disk's size as a guest sees it, as Glance records it: a raw
    image's own size, a qcow2 image's from its header; unknown otherwise.

    NOTE: metadata only. Compute still inspects every image with an
    explicit format before it uses one.
    """
    if disk_format == "raw":
        return size
    if disk_format != "qcow2":
        return None
    with open(path, "rb") as f:
        header = f.read(32)
    if len(header) < 32 or header[:4] != _QCOW2_MAGIC or \
            int.from_bytes(header[4:8], "big") not in (2, 3):
        return None
    return int.from_bytes(header[24:32], "big")


def images_dir() -> str:
    return os.path.join(CONF.state_path, "images")


def _is_admin(context: Any) -> bool:
    return bool(getattr(context, "is_admin", False))


def _project(context: Any) -> str | None:
    return getattr(context, "project_id", None)


def visible(context: Any, image: dict) -> bool:
    if _is_admin(context) or image.get("visibility") in ("public", "community"):
        return True
    return image.get("owner") is not None and image.get("owner") == _project(context)


def _listed(context: Any, image: dict) -> bool:
    """In a list without a visibility filter, as Glance lists: community
    images only for their owner."""
    if image.get("visibility") == "community":
        return _is_admin(context) or image.get("owner") == _project(context)
    return visible(context, image)


def owns(context: Any, image: dict) -> bool:
    return _is_admin(context) or (image.get("owner") is not None
                                  and image.get("owner") == _project(context))


class ImageExists(exception.Conflict):
    msg_fmt = "Image with identifier %(image_id)s already exists!"


class ImageMemberExists(exception.Conflict):
    msg_fmt = "Member %(member)s is duplicated for image %(image_id)s"


class ImageMemberNotFound(exception.NotFound):
    msg_fmt = "%(member)s not found in the member list of the image %(image_id)s."


class ImageMemberLimitExceeded(exception.NovaliteException):
    msg_fmt = ("Image member limit exceeded for image %(image_id)s: the limit has been "
               "exceeded on the number of allowed image members for this image. "
               "Maximum: %(maximum)s")
    code = 413


def _member_of(context: Any, image: dict) -> bool:
    """Whether the image is shared with the caller's project."""
    project = _project(context)
    return image.get("visibility") == "shared" and project is not None and \
        db_images.member_get(image["id"], project) is not None


class API:
    def get(self, context: Any, image_id: str) -> dict:
        image = _view(db.image_get(image_id))
        if not visible(context, image) and not _member_of(context, image):
            raise exception.ImageNotFound(image_id=image_id)
        return image

    def id_taken(self, image_id: str) -> bool:
        """Whether any image ever had this id: as in Glance, a deleted
        image's id is never given to another."""
        return db_images.id_taken(image_id)

    def get_all(self, context: Any, filters: dict | None = None) -> list[dict]:
        """Images the caller may see, newest first.

        ``filters``: ``name``, ``names`` (list), ``status``, ``ids`` (list), ``visibility``
        (one of VISIBILITIES, or ``all``), ``owner``, ``os_hidden`` (bool,
        default False as in Glance), ``tags`` (all must be present),
        ``protected`` (bool), ``member_status`` (the answer of the shared
        images listed to a member: ``accepted`` by default, or ``pending``,
        ``rejected``, ``all``), ``disk_format``, ``container_format``,
        ``checksum``, ``os_hash_value``, ``size`` (exact), ``size_min``,
        ``size_max``, ``properties`` (custom property → its value as text).
        """
        filters = dict(filters or {})
        db_filters = {k: filters[k] for k in ("name", "status", "ids") if k in filters}
        images = [_view(r) for r in db.image_get_all(db_filters)]
        visibility = filters.get("visibility")
        offered = _offered(context, filters.get("member_status", "accepted"))
        if visibility is None:
            images = [i for i in images if _listed(context, i) or i["id"] in offered]
        else:
            images = [i for i in images if (visible(context, i) or i["id"] in offered)
                      and (visibility == "all" or i["visibility"] == visibility)]
        if filters.get("names") is not None:
            images = [i for i in images if i["name"] in filters["names"]]
        if filters.get("owner") is not None:
            images = [i for i in images if i["owner"] == filters["owner"]]
        hidden = bool(filters.get("os_hidden", False))
        images = [i for i in images if i["os_hidden"] == hidden]
        for tag in filters.get("tags") or ():
            images = [i for i in images if tag in i["tags"]]
        if filters.get("protected") is not None:
            images = [i for i in images if i["protected"] == filters["protected"]]
        for key in _EXACT_FILTERS:
            if filters.get(key) is not None:
                images = [i for i in images if i.get(key) == filters[key]]
        if filters.get("size_min") is not None:
            images = [i for i in images if i["size"] is not None
                      and i["size"] >= filters["size_min"]]
        if filters.get("size_max") is not None:
            images = [i for i in images if i["size"] is not None
                      and i["size"] <= filters["size_max"]]
        for key, value in (filters.get("properties") or {}).items():
            images = [i for i in images if str(i["properties"].get(key)) == value]
        return images

    def create(self, context: Any, name: str | None, disk_format: str | None = None,
               container_format: str | None = None, min_ram: int = 0, min_disk: int = 0,
               visibility: str = "public", properties: dict | None = None,
               image_id: str | None = None, protected: bool = False,
               tags: Iterable[str] = (), os_hidden: bool = False,
               owner: str | None | object = _CALLER) -> dict:
        """A queued image owned by the caller's project, or by ``owner``
        (the API lets only admins name another project)."""
        _check_formats(disk_format, container_format)
        if visibility not in VISIBILITIES:
            raise exception.Invalid(reason=f"visibility {visibility!r} is not one of "
                                           f"{', '.join(VISIBILITIES)}")
        owner_id = _project(context) if owner is _CALLER else owner
        assert owner_id is None or isinstance(owner_id, str)
        image = {"tags": _unique(tags), "os_hidden": os_hidden, "properties": properties or {}}
        _check_quotas(image)
        values = {"name": name, "disk_format": disk_format,
                  "container_format": container_format, "min_ram": min_ram,
                  "min_disk": min_disk, "visibility": visibility, "status": "queued",
                  "protected": protected, "owner": owner_id,
                  "properties": _stored_properties(image)}
        if image_id:
            values["uuid"] = image_id
        owner = owner_id
        with quota.lock(owner):
            quota.enforce_create(owner)
            try:
                return _view(db.image_create(values))
            except sa_exc.IntegrityError:
                # NOTE: the unique uuid, taken by a racing create or a
                # deleted image.
                raise ImageExists(image_id=image_id) from None

    def update(self, context: Any, image_id: str, changes: dict) -> dict:
        """Set core attributes (name, min_ram, min_disk, visibility,
        protected, tags, os_hidden, and the formats while queued) and
        replace the custom ``properties`` as a whole."""
        image = self._owned(context, image_id, "modify")
        _check_formats(changes.get("disk_format"), changes.get("container_format"))
        if ("disk_format" in changes or "container_format" in changes) and \
                image["status"] != "queued":
            raise exception.ImageForbidden(reason="the disk and container formats of an "
                                                  f"image that is {image['status']} cannot "
                                                  "be changed")
        merged = {**image, **changes}
        values = {k: changes[k] for k in ("name", "disk_format", "container_format",
                                            "min_ram", "min_disk", "visibility", "protected",
                                            "owner")
                  if k in changes}
        merged["tags"] = _unique(merged.get("tags") or ())
        _check_quotas(merged)
        values["properties"] = _stored_properties(merged)
        return _view(db.image_update(image_id, values))

    def upload(self, context: Any, image_id: str, chunks: Iterable[bytes],
               size_hint: int | None = None) -> dict:
        """Store the data of a queued image: saving while it streams,
        active with size and hashes after, killed if it fails; back to
        queued (as Glance) when it would take the owner over its quota.
        ``size_hint``: the length the client announced, checked first."""
        image = self._owned(context, image_id, "upload data to")
        if not image.get("disk_format") or not image.get("container_format"):
            raise exception.Invalid(reason="Properties disk_format, container_format must be "
                                           "set prior to saving data.")
        owner = image["owner"]
        with quota.lock(owner):
            headroom = quota.enforce_upload_start(owner, size_hint)
            db.image_update(image_id, {"status": "saving"}, expected_status="queued")
        path = os.path.join(filemodes.private_dir(images_dir()), image["id"])
        size, checksum, hash_value = _receive(image_id, path, chunks, owner, headroom)
        return _activate(image_id, path, owner, size, checksum, hash_value)

    def register(self, context: Any, name: str, path: str, disk_format: str = "raw",
                 container_format: str = "bare", **kwargs: Any) -> dict:
        """Create an image from a local file (``novalite-manage image register``)."""
        with open(path, "rb") as f:
            image = self.create(context, name, disk_format, container_format, **kwargs)
            return self.upload(context, image["id"], _read_chunks(f))

    def download(self, context: Any, image_id: str) -> Iterator[bytes]:
        """The image's data in chunks. The file is opened before this
        returns, so a missing one fails here rather than mid-response."""
        self.get(context, image_id)
        row = db.image_get(image_id)
        if row["status"] == "deactivated" and not _is_admin(context):
            raise exception.ImageForbidden(reason="The requested image has been deactivated. "
                                                  "Image data download is forbidden.")
        if row["status"] not in ("active", "deactivated") or not row.get("location"):
            raise exception.Conflict(reason=f"image {image_id} is {row['status']} and has no "
                                            "data to download")
        try:
            f = open(row["location"], "rb")
        except FileNotFoundError as e:
            LOG.error("Data of image %s is missing from %s", image_id, row["location"])
            raise exception.ImageNotFound(image_id=image_id) from e
        return _closing_chunks(f)

    def deactivate(self, context: Any, image_id: str) -> None:
        """Forbid downloads to all but admins (the owner or an admin, as
        Glance's default policy): active → deactivated."""
        self._set_active(context, image_id, "deactivate", "active", "deactivated")

    def reactivate(self, context: Any, image_id: str) -> None:
        """Allow downloads again: deactivated → active."""
        self._set_active(context, image_id, "reactivate", "deactivated", "active")

    def _set_active(self, context: Any, image_id: str, action: str, source: str,
                    target: str) -> None:
        image = self.get(context, image_id)
        if not owns(context, image):
            raise exception.ImageForbidden(reason=f"You are not authorized to complete "
                                                  f"{action} action.")
        if image["status"] == target:
            return
        if image["status"] != source:
            raise exception.ImageForbidden(reason=f"Not allowed to {action} image in status "
                                                  f"'{image['status']}'")
        try:
            db.image_update(image_id, {"status": target}, expected_status=source)
        except exception.ImageStatusTransition:
            # NOTE: a concurrent request did it first; the outcome is the same.
            if db.image_get(image_id)["status"] != target:
                raise

    def delete(self, context: Any, image_id: str) -> None:
        image = self._owned(context, image_id, "delete")
        if image["protected"]:
            raise exception.ImageProtected(image_id=image_id)
        row = db.image_destroy(image_id)
        db_images.member_delete(image_id)
        if row.get("location") and os.path.exists(row["location"]):
            os.unlink(row["location"])

    # --- members (Glance's image sharing) -----------------------------------

    def add_member(self, context: Any, image_id: str, member: str) -> dict:
        """Offer a shared image to project ``member`` (pending until it
        answers); the owner or an admin only."""
        image = self._shared(context, image_id, "create")
        if not owns(context, image):
            raise _member_forbidden("create", image_id)
        if db_images.count_members(image_id) >= MEMBER_QUOTA:
            raise ImageMemberLimitExceeded(image_id=image_id, maximum=MEMBER_QUOTA)
        created = db_images.member_create(image_id, member)
        if created is None:
            raise ImageMemberExists(member=member, image_id=image_id)
        return created

    def members(self, context: Any, image_id: str) -> list[dict]:
        """The image's members: all of them to the owner and admins, its
        own membership to a member."""
        image = self.get(context, image_id)
        if image["visibility"] != "shared":
            raise exception.ImageForbidden(reason=f"Not allowed to list members for image "
                                                  f"{image_id}: Only shared images have "
                                                  "members.")
        members = db_images.members_of(image_id)
        if owns(context, image):
            return members
        return [m for m in members if m["member"] == _project(context)]

    def member(self, context: Any, image_id: str, member: str) -> dict:
        """One membership, to the owner, an admin or that member; 404
        otherwise (as for an image that is not shared: nothing leaks)."""
        image = self.get(context, image_id)
        found = db_images.member_get(image_id, member)
        if image["visibility"] != "shared" or found is None or \
                not (owns(context, image) or member == _project(context)):
            raise ImageMemberNotFound(image_id=image_id, member=member)
        return found

    def set_member_status(self, context: Any, image_id: str, member: str,
                          status: str) -> dict:
        """The member's answer (pending, accepted, rejected): the member
        project itself or an admin only, never the owner for it."""
        image = self._shared(context, image_id, "update")
        if not _is_admin(context) and image["owner"] == _project(context):
            raise _member_forbidden("update", image_id)
        self.member(context, image_id, member)
        if not _is_admin(context) and member != _project(context):
            raise _member_forbidden("update", image_id)
        if status not in MEMBER_STATUSES:
            raise exception.Invalid(reason=f"status {status!r} is not one of "
                                           f"{', '.join(MEMBER_STATUSES)}")
        updated = db_images.member_update(image_id, member, status)
        if updated is None:
            raise ImageMemberNotFound(image_id=image_id, member=member)
        return updated

    def remove_member(self, context: Any, image_id: str, member: str) -> None:
        """Stop sharing with ``member``: the owner or an admin only."""
        image = self._shared(context, image_id, "delete")
        if not owns(context, image):
            raise _member_forbidden("delete", image_id)
        if not db_images.member_delete(image_id, member):
            raise ImageMemberNotFound(image_id=image_id, member=member)

    def _shared(self, context: Any, image_id: str, action: str) -> dict:
        image = self.get(context, image_id)
        if image["visibility"] != "shared":
            raise _member_forbidden(action, image_id)
        return image

    def _owned(self, context: Any, image_id: str, what: str) -> dict:
        image = self.get(context, image_id)
        if not owns(context, image):
            raise exception.ImageForbidden(reason=f"You are not permitted to {what} this "
                                                  "image.")
        return image


def _member_forbidden(action: str, image_id: str) -> exception.ImageForbidden:
    """Glance's one answer to any refused change of an image's members
    (not shared, not the owner, the owner answering for a member)."""
    return exception.ImageForbidden(reason=f"Not allowed to {action} members for image "
                                           f"{image_id}.")


def _offered(context: Any, member_status: str) -> set[str]:
    """The ids of the images offered to the caller's project whose answer
    is ``member_status`` (``all``: any)."""
    project = _project(context)
    if project is None:
        return set()
    return {image_id for image_id, status in db_images.memberships(project).items()
            if member_status in ("all", status)}


def _check_formats(disk_format: str | None, container_format: str | None) -> None:
    if disk_format is not None and disk_format not in DISK_FORMATS:
        raise exception.Invalid(reason=f"disk_format {disk_format!r} is not one of "
                                       f"{', '.join(DISK_FORMATS)}")
    if container_format is not None and container_format not in CONTAINER_FORMATS:
        raise exception.Invalid(reason=f"container_format {container_format!r} is not one "
                                       f"of {', '.join(CONTAINER_FORMATS)}")


def _check_quotas(image: dict) -> None:
    for attempted, maximum, error in (
            (len(image.get("properties") or {}), CONF.image_api.image_property_quota,
             exception.ImagePropertyLimitExceeded),
            (len(image.get("tags") or ()), CONF.image_api.image_tag_quota,
             exception.ImageTagLimitExceeded)):
        if 0 <= maximum < attempted:
            raise error(attempted=attempted, maximum=maximum)


def _unique(tags: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def _set_status_if(image_id: str, status: str, expected: str) -> None:
    try:
        db.image_update(image_id, {"status": status}, expected_status=expected)
    except (exception.ImageNotFound, exception.Conflict):
        pass


def _receive(image_id: str, path: str, chunks: Iterable[bytes], owner: str | None,
             headroom: int | None) -> tuple[int, str, str]:
    """Stream the data into ``path`` (0600), hashing it; its size, md5 and
    sha512. Over the size cap or what is left of the owner's quota
    (``headroom`` bytes), or if the stream fails, nothing stays on disk."""
    md5, sha512, size = hashlib.md5(usedforsecurity=False), hashlib.sha512(), 0
    cap = CONF.image_api.image_size_cap
    try:
        with filemodes.private_file(path + ".part") as f:
            for chunk in chunks:
                if not chunk:
                    continue
                if size + len(chunk) > cap:
                    raise exception.ImageSizeLimitExceeded(cap=cap)
                if headroom is not None and size + len(chunk) > headroom:
                    raise quota.stream_exceeded(owner, headroom, size + len(chunk))
                f.write(chunk)
                md5.update(chunk)
                sha512.update(chunk)
                size += len(chunk)
        os.replace(path + ".part", path)
    except quota.ImageQuotaExceeded:
        _discard(path + ".part")
        LOG.warning("Upload of image %s would pass its owner's quota; queued again", image_id)
        _set_status_if(image_id, "queued", expected="saving")
        raise
    except BaseException:
        _discard(path + ".part")
        LOG.warning("Upload of image %s failed; the image is killed", image_id)
        _set_status_if(image_id, "killed", expected="saving")
        raise
    return size, md5.hexdigest(), sha512.hexdigest()


def _activate(image_id: str, path: str, owner: str | None, size: int, checksum: str,
              hash_value: str) -> dict:
    """saving → active with the data's size and hashes, if the owner's
    quota still has room for it (checked again under its lock)."""
    try:
        with quota.lock(owner):
            quota.enforce_upload_end(owner, size)
            current = _view(db.image_get(image_id))
            current["virtual_size"] = virtual_size(path, current["disk_format"], size)
            return _view(db.image_update(image_id, {
                "status": "active", "size": size, "checksum": checksum,
                "os_hash_algo": "sha512", "os_hash_value": hash_value,
                "location": path, "properties": _stored_properties(current)},
                expected_status="saving"))
    except quota.ImageQuotaExceeded:
        # NOTE: racing uploads of the same project took the room first.
        _discard(path)
        _set_status_if(image_id, "queued", expected="saving")
        raise
    except (exception.ImageNotFound, exception.Conflict):
        # NOTE: deleted while its data streamed in; the data goes too.
        _discard(path)
        raise


def _discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _closing_chunks(f: BinaryIO) -> Iterator[bytes]:
    with f:
        yield from _read_chunks(f)


def _read_chunks(f: BinaryIO) -> Iterator[bytes]:
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            return
        yield chunk
