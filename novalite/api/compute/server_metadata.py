"""/servers/{id}/metadata: the user's key/value pairs on a server, as
Nova's server metadata API (merge, replace, one key, delete)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from novalite import exception, policy
from novalite.api import errors, validation, wsgi
from novalite.api.compute.servers import check_metadata_quota, target_of
from novalite.api.schemas import server_responses as responses
from novalite.api.schemas import servers as schemas
from novalite.api.wsgi import Request
from novalite.compute import vm_states
from novalite.compute.api_power import check_instance_lock
from novalite.policies import servers as sp

# NOTE: Nova's update_instance_metadata / delete_instance_metadata: only in
# these vm_states, with no task in flight, and not on a locked server
# (check_instance_lock: 409 but for admins), the lock checked first.
_MUTABLE_STATES = (vm_states.ACTIVE, vm_states.PAUSED, vm_states.SUSPENDED,
                   vm_states.STOPPED)

_NOT_FOUND = "Metadata item was not found"


class ServerMetadataController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    def _instance(self, req: Request, server_id: str, rule: str, action: str | None = None,
                  ) -> Any:
        # NOTE: the lookup first (404 for another project's server), then policy.
        instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, sp.METADATA % rule, target_of(instance))
        if action is not None:
            _check_mutable(req, instance, action)
        return instance

    @staticmethod
    def _save(instance: Any, action: str, change: Callable[[dict], dict]) -> dict:
        """``change(current metadata)`` → new metadata, read and written under
        the row's lock: concurrent writers of different keys all land. The
        state and quota are checked against what is stored at that moment."""
        def apply(current: dict, vm_state: str) -> dict:
            if vm_state not in _MUTABLE_STATES:
                raise exception.InstanceInvalidState(action=action,
                                                     instance_uuid=instance.uuid,
                                                     attr="vm_state", state=vm_state)
            metadata = change(current)
            check_metadata_quota(instance.project_id, metadata)
            return metadata

        return instance.update_metadata(apply)

    @validation.response_schema(responses.metadata_response)
    def index(self, req: Request, server_id: str) -> dict:
        instance = self._instance(req, server_id, "index")
        return {"metadata": dict(instance.metadata or {})}

    @validation.schema(schemas.metadata_create)
    @validation.response_schema(responses.metadata_response)
    def create(self, req: Request, server_id: str, body: dict) -> dict:
        """POST: merge the given items into the server's."""
        instance = self._instance(req, server_id, "create", "update metadata")
        return {"metadata": self._save(instance, "update metadata",
                                       lambda current: {**current, **body["metadata"]})}

    @validation.schema(schemas.metadata_update_all)
    @validation.response_schema(responses.metadata_response)
    def update_all(self, req: Request, server_id: str, body: dict) -> dict:
        """PUT: replace all the server's items with the given ones."""
        instance = self._instance(req, server_id, "update_all", "update metadata")
        return {"metadata": self._save(instance, "update metadata",
                                       lambda _current: dict(body["metadata"]))}

    @validation.response_schema(responses.meta_response)
    def show(self, req: Request, server_id: str, key: str) -> dict:
        instance = self._instance(req, server_id, "show")
        metadata = instance.metadata or {}
        if key not in metadata:
            raise errors.not_found(_NOT_FOUND)
        return {"meta": {key: metadata[key]}}

    @validation.schema(schemas.metadata_update)
    @validation.response_schema(responses.meta_response)
    def update(self, req: Request, server_id: str, key: str, body: dict) -> dict:
        """PUT one item: the body's one key must be the URL's."""
        meta = body["meta"]
        if key not in meta:
            raise errors.bad_request("Request body and URI mismatch")
        if len(meta) > 1:
            raise errors.bad_request("Request body contains too many items")
        instance = self._instance(req, server_id, "update", "update metadata")
        self._save(instance, "update metadata", lambda current: {**current, key: meta[key]})
        return {"meta": {key: meta[key]}}

    @wsgi.response(204)
    def delete(self, req: Request, server_id: str, key: str) -> None:
        instance = self._instance(req, server_id, "delete")
        if key not in (instance.metadata or {}):
            raise errors.not_found(_NOT_FOUND)
        _check_mutable(req, instance, "delete metadata")

        def without(current: dict) -> dict:
            if key not in current:
                raise errors.not_found(_NOT_FOUND)
            return {k: v for k, v in current.items() if k != key}

        self._save(instance, "delete metadata", without)


def _check_mutable(req: Request, instance: Any, action: str) -> None:
    """Nova's check_instance_lock then check_instance_state(vm_state=
    _MUTABLE_STATES, task_state=None): 409 either way."""
    check_instance_lock(req.context, instance)
    if instance.vm_state not in _MUTABLE_STATES:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="vm_state", state=instance.vm_state)
    if instance.task_state is not None:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="task_state", state=instance.task_state)

