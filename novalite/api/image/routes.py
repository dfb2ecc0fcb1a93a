"""The Image API's route table (``/image``, Glance v2 paths)."""

from __future__ import annotations

from typing import Any

from novalite.api import common
from novalite.api.image import metadefs
from novalite.api.image.images import ImagesController, SchemasController
from novalite.api.image.info import ImportInfoController, InfoController
from novalite.api.image.members import MembersController
from novalite.api.image.versions import VersionsController
from novalite.api.links import IMAGE_PREFIX
from novalite.api.router import Router


def _image_api() -> Any:
    from novalite.image import api

    return api.API()


def connect(router: Router, image_api: Any = None) -> None:
    image_api = image_api if image_api is not None else common.Lazy(_image_api)
    versions = VersionsController()
    images = ImagesController(image_api)
    image_schemas = SchemasController()
    for path, action in (("", "multiple_choices"), ("/versions", "index"),
                         ("/v2", "multiple_choices")):
        router.connect(IMAGE_PREFIX + path, "GET", versions, action, public=True)
    v2 = f"{IMAGE_PREFIX}/v2"
    table: list[tuple[str, str, str]] = [
        ("/images", "GET", "index"),
        ("/images", "POST", "create"),
        ("/images/{id}", "GET", "show"),
        ("/images/{id}", "PATCH", "update"),
        ("/images/{id}", "DELETE", "delete"),
        ("/images/{id}/tags/{tag}", "PUT", "add_tag"),
        ("/images/{id}/tags/{tag}", "DELETE", "delete_tag"),
        ("/images/{id}/actions/deactivate", "POST", "deactivate"),
        ("/images/{id}/actions/reactivate", "POST", "reactivate"),
        ("/images/{id}/file", "PUT", "upload"),
        ("/images/{id}/file", "GET", "download"),
        ("/images/{id}/tasks", "GET", "tasks"),
    ]
    for path, method, action in table:
        router.connect(v2 + path, method, images, action)
    members = MembersController(image_api)
    for path, method, action in (("/images/{image_id}/members", "GET", "index"),
                                 ("/images/{image_id}/members", "POST", "create"),
                                 ("/images/{image_id}/members/{member_id}", "GET", "show"),
                                 ("/images/{image_id}/members/{member_id}", "PUT", "update"),
                                 ("/images/{image_id}/members/{member_id}", "DELETE",
                                  "delete")):
        router.connect(v2 + path, method, members, action)
    router.connect(f"{v2}/schemas/image", "GET", image_schemas, "image")
    router.connect(f"{v2}/schemas/images", "GET", image_schemas, "images")
    router.connect(f"{v2}/schemas/member", "GET", image_schemas, "member")
    router.connect(f"{v2}/schemas/members", "GET", image_schemas, "members")
    router.connect(f"{v2}/schemas/metadefs/{{name}}", "GET", image_schemas, "metadefs")
    router.connect(f"{v2}/info/usage", "GET", InfoController(), "usage")
    router.connect(f"{v2}/info/import", "GET", ImportInfoController(), "methods")
    metadefs.connect(router, v2)
