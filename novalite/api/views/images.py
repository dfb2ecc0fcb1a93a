"""Image views of the Compute API's image proxy (``/compute/v2.1/images``),
as Nova shows Glance's images."""

from __future__ import annotations

from novalite.api.links import Links
from novalite.api.views.common import isotime

# NOTE: Nova's names for Glance statuses, and the progress it shows for each.
_STATUS = {"active": ("ACTIVE", 100), "queued": ("SAVING", 25), "saving": ("SAVING", 50),
           "deleted": ("DELETED", 0), "pending_delete": ("DELETED", 0),
           "killed": ("ERROR", 0)}


def _links(image: dict, links: Links) -> list[dict]:
    return links.resource("images", image["id"]) + [
        {"rel": "alternate", "type": "application/vnd.openstack.image",
         "href": f"{links.image_root}/images/{image['id']}"}]


def basic(image: dict, links: Links) -> dict:
    return {"id": image["id"], "name": image.get("name"), "links": _links(image, links)}


def detail(image: dict, links: Links) -> dict:
    status, progress = _STATUS.get(image.get("status") or "", ("UNKNOWN", 0))
    out = {
        "id": image["id"],
        "name": image.get("name"),
        "status": status,
        "progress": progress,
        "minRam": image.get("min_ram") or 0,
        "minDisk": image.get("min_disk") or 0,
        "metadata": dict(image.get("properties") or {}),
        "created": isotime(image.get("created_at")),
        "updated": isotime(image.get("updated_at") or image.get("created_at")),
        "OS-EXT-IMG-SIZE:size": image.get("size"),
        "links": _links(image, links),
    }
    # NOTE: a snapshot names the server it was taken from, as Nova shows it.
    server = (image.get("properties") or {}).get("instance_uuid")
    if server:
        out["server"] = {"id": server, "links": links.resource("servers", server)}
    return out
