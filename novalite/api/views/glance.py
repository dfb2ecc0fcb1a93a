"""Image views of the Image API v2, as Glance shows them: every core
attribute, custom properties flattened into the image as strings, and
relative ``self``/``file``/``schema`` links."""

from __future__ import annotations

from novalite.api.views.common import isotime

_CORE = ("id", "name", "status", "disk_format", "container_format", "size", "checksum",
         "os_hash_algo", "os_hash_value", "min_ram", "min_disk", "visibility", "owner")


def image(view: dict) -> dict:
    out: dict = {}
    # NOTE: core fields win over a property of the same name, as in Glance,
    # where such a property could not have been created.
    out.update({k: v if isinstance(v, str) else str(v)
                for k, v in (view.get("properties") or {}).items()})
    out.update({k: view.get(k) for k in _CORE})
    out["protected"] = bool(view.get("protected"))
    out["os_hidden"] = bool(view.get("os_hidden"))
    out["tags"] = list(view.get("tags") or [])
    out["min_ram"] = view.get("min_ram") or 0
    out["min_disk"] = view.get("min_disk") or 0
    out["virtual_size"] = view.get("virtual_size")
    out["created_at"] = isotime(view.get("created_at"))
    out["updated_at"] = isotime(view.get("updated_at") or view.get("created_at"))
    out["self"] = f"/v2/images/{view['id']}"
    out["file"] = f"/v2/images/{view['id']}/file"
    out["schema"] = "/v2/schemas/image"
    return out


def collection(views: list[dict], next_query: str | None = None) -> dict:
    """``next_query`` is the urlencoded query of the next page, if any."""
    out: dict = {"images": [image(v) for v in views], "first": "/v2/images",
                 "schema": "/v2/schemas/images"}
    if next_query:
        out["next"] = f"/v2/images?{next_query}"
    return out
