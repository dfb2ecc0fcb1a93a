"""Server actions (POST /servers/{id}/action): createImage, createBackup, shelve, shelveOffload, unshelve, rebuild.

actions(compute_api) gives ServerActionsController (server_actions.py)
each action's handler, body validator and policy rule, keyed by the
action's name in the body.

Per microversion as Nova: createImage / createBackup answer a Location
header before 2.45 and ``{"image_id"}`` from 2.45, and check the image's
metadata against the project's ``metadata_items`` quota only before 2.39;
unshelve takes an availability zone from 2.77 and a host (admin) or a null
zone from 2.91; rebuild's body grows description (2.19), key_name (2.54),
user_data instead of personality (2.57), hostname (2.90).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import webob
from oslo_utils import strutils

from novalite import exception, policy, quota
from novalite.api import errors, validation
from novalite.api.schemas import image_actions as schemas
from novalite.compute import api_images
from novalite.policies import image_actions as rules
from novalite.policies import server_microversions as mvp

Action = tuple[Callable[[Any, Any, Any], Any], Any, str]


def _validator(schema: dict) -> Any:
    return jsonschema.Draft202012Validator(schema, format_checker=validation.FORMAT_CHECKER)


_ANY = _validator({"type": "object"})


def _versioned(req: Any, versions: tuple[tuple[str, dict], ...], body: dict) -> None:
    """Validate ``body`` against the newest schema the request's version has."""
    schema = versions[0][1]
    for first, candidate in versions:
        if req.api_version.at_least(first):
            schema = candidate
    validation.validate(_validator(schema), body)


def actions(compute_api: Any) -> dict[str, Action]:
    """Handlers take (request, instance, the action's body value)."""
    handlers = _Handlers(compute_api)
    return {
        "createImage": (handlers.create_image, _validator(schemas.create_image),
                        rules.CREATE_IMAGE),
        "createBackup": (handlers.create_backup, _validator(schemas.create_backup),
                         rules.CREATE_BACKUP),
        "shelve": (handlers.shelve, _validator(schemas.shelve), rules.SHELVE),
        "shelveOffload": (handlers.shelve_offload, _validator(schemas.shelve_offload),
                          rules.SHELVE_OFFLOAD),
        # NOTE: the body's shape depends on the version: checked in the handler.
        "unshelve": (handlers.unshelve, _ANY, rules.UNSHELVE),
        "rebuild": (handlers.rebuild, _ANY, rules.REBUILD),
    }


class _Handlers:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    # -- snapshots and backups ----------------------------------------------------

    def create_image(self, req: Any, instance: Any, args: dict) -> webob.Response:
        metadata = dict(args.get("metadata") or {})
        self._check_metadata_quota(req, metadata)
        image = self.compute_api.snapshot(req.context, instance, args["name"].strip(),
                                          extra_properties=metadata)
        return _image_answer(req, image, f"{req.links.image_root}/images/{image['id']}")

    def create_backup(self, req: Any, instance: Any, args: dict) -> webob.Response:
        metadata = dict(args.get("metadata") or {})
        self._check_metadata_quota(req, metadata)
        rotation = int(args["rotation"])
        image = self.compute_api.backup(req.context, instance, args["name"].strip(),
                                        args["backup_type"], rotation,
                                        extra_properties=metadata)
        location = (f"{req.links.compute_versioned}/images/{image['id']}"
                    if rotation > 0 else None)
        return _image_answer(req, image, location)

    @staticmethod
    def _check_metadata_quota(req: Any, metadata: dict) -> None:
        """Before 2.39 as Nova: more image metadata than the project's
        ``metadata_items`` is 403."""
        if req.api_version.at_least("2.39"):
            return
        limit = quota.get_project_quotas(req.context.project_id)["metadata_items"]
        if limit != quota.UNLIMITED and len(metadata) > limit:
            raise errors.HTTPError(403, f"Quota exceeded for metadata_items: Requested "
                                        f"{len(metadata)}, but the limit is {limit}")

    # -- shelve ---------------------------------------------------------------------

    def shelve(self, req: Any, instance: Any, _args: Any) -> webob.Response:
        self.compute_api.shelve(req.context, instance)
        return webob.Response(status=202)

    def shelve_offload(self, req: Any, instance: Any, _args: Any) -> webob.Response:
        self.compute_api.shelve_offload(req.context, instance)
        return webob.Response(status=202)

    def unshelve(self, req: Any, instance: Any, args: Any) -> webob.Response:
        _versioned(req, schemas.UNSHELVE_VERSIONS, {"unshelve": args})
        args = args or {}
        zone = args.get("availability_zone")
        host = args.get("host")
        unpin = "availability_zone" in args and zone is None
        if host is not None:
            policy.authorize(req.context, rules.UNSHELVE_TO_HOST,
                             {"project_id": instance.project_id})
        try:
            self.compute_api.unshelve(req.context, instance, availability_zone=zone,
                                      host=host, unpin_az=unpin)
        except exception.Invalid as e:
            raise errors.bad_request(e.format_message()) from None
        return webob.Response(status=202)

    # -- rebuild ----------------------------------------------------------------------

    def rebuild(self, req: Any, instance: Any, args: dict) -> webob.Response:
        from novalite.api.compute import servers as servers_api

        _versioned(req, schemas.REBUILD_VERSIONS, {"rebuild": args})
        version = req.api_version
        ctx = req.context
        password = args.get("adminPass") or api_images.generate_password()
        kwargs: dict[str, Any] = {}
        for key, field in (("name", "display_name"), ("description", "display_description"),
                           ("metadata", "metadata"), ("hostname", "hostname")):
            if key in args:
                kwargs[field] = args[key].strip() if key == "name" else args[key]
        if version.at_least("2.54") and "key_name" in args:
            kwargs["key_name"] = args["key_name"]
        if version.at_least("2.57") and "user_data" in args:
            kwargs["user_data"] = servers_api._user_data(args["user_data"])
        if args.get("personality"):
            kwargs["files_to_inject"] = servers_api._personality(ctx, args["personality"])
        if "preserve_ephemeral" in args:
            # NOTE: as Nova: any caller may ask; the host's driver decides.
            kwargs["preserve_ephemeral"] = strutils.bool_from_string(
                args["preserve_ephemeral"], strict=True)
        for key, field in (("accessIPv4", "access_ip_v4"), ("accessIPv6", "access_ip_v6")):
            if key in args:
                setattr(instance, field, args[key])
        if "OS-DCF:diskConfig" in args:
            instance.auto_disk_config = args["OS-DCF:diskConfig"] == "AUTO"
        if version.at_least("2.63") and "trusted_image_certificates" in args:
            # NOTE: as Nova: null (or none given) unsets them, a list replaces them.
            policy.authorize(ctx, mvp.TRUSTED_CERTS_REBUILD, servers_api.target_of(instance))
            instance.system_metadata = servers_api.trusted_certs_metadata(
                dict(instance.system_metadata or {}), args["trusted_image_certificates"])
        try:
            self.compute_api.rebuild(ctx, instance, args["imageRef"], password, **kwargs)
        except exception.Invalid as e:
            raise errors.bad_request(e.format_message()) from None
        instance = self.compute_api.get(ctx, instance.uuid)
        from novalite.api.views import servers as views

        server = views.updated(instance, req.links, servers_api.show_extended(ctx),
                               views.addresses_of([instance]),
                               fault_details=servers_api.show_fault_details(ctx),
                               extras=servers_api.extras_for(req, [instance], "update"))
        server["adminPass"] = password
        # NOTE: as Nova's rebuild answer: the key pair's name from 2.54.
        if version.at_least("2.54"):
            server["key_name"] = instance.key_name
        if version.at_least("2.57"):
            server["user_data"] = instance.user_data
        # NOTE: the whole server from 2.75, as Nova's, but user_data only as
        # above (never OS-EXT-SRV-ATTR:user_data in a rebuild answer).
        server.pop("OS-EXT-SRV-ATTR:user_data", None)
        return _accepted({"server": server})


def _image_answer(req: Any, image: dict, location: str | None) -> webob.Response:
    if req.api_version.at_least("2.45"):
        return _accepted({"image_id": image["id"]})
    resp = webob.Response(status=202)
    if location:
        resp.headers["Location"] = location
    return resp


def _accepted(body: dict) -> webob.Response:
    """202 with a JSON body (Nova answers these actions 202)."""
    resp = webob.Response(status=202, content_type="application/json", charset="UTF-8")
    resp.json_body = body
    return resp
