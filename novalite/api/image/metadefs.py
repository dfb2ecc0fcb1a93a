"""/image/v2/metadefs: Glance's metadata definitions catalog (namespaces and
their objects, properties, tags and resource type associations; the list of
resource types), with Glance's status codes and answer shapes."""

from __future__ import annotations

from typing import Any

from novalite.api import validation, wsgi
from novalite.api.image import documents
from novalite.api.views.common import isotime
from novalite.api.wsgi import Request
from novalite.image import metadefs as api

_NAME = {"type": "string", "minLength": 1, "maxLength": 80}
_TEXT = {"type": "string", "maxLength": 255}
_ASSOCIATION = {"type": "object", "required": ["name"], "additionalProperties": False,
                "properties": {"name": _NAME, "prefix": {"type": "string", "maxLength": 80},
                               "properties_target": {"type": "string", "maxLength": 80}}}
_PROPERTY_FIELDS: dict[str, Any] = dict(documents.PROPERTY["properties"])  # type: ignore[call-overload]
_PROPERTY_BODY = {"type": "object", "required": ["name", "title", "type"],
                  "additionalProperties": False,
                  "properties": {**_PROPERTY_FIELDS,
                                 "name": {"type": "string", "minLength": 1, "maxLength": 255}}}
_PROPERTY_DEFINITION = {**_PROPERTY_BODY, "required": ["title", "type"]}
_OBJECT = {"type": "object", "required": ["name"], "additionalProperties": False,
           "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255},
                          "description": {"type": "string"},
                          "required": {"type": "array", "items": {"type": "string"}},
                          "properties": {"type": "object",
                                         "additionalProperties": _PROPERTY_DEFINITION}}}
_TAG = {"type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255}}}
_NAMESPACE_FIELDS = {
    "namespace": _NAME, "display_name": {"type": "string", "maxLength": 80},
    "description": {"type": "string", "maxLength": 500},
    "visibility": {"type": "string", "enum": ["public", "private"]},
    "protected": {"type": "boolean"}, "owner": _TEXT,
}
NAMESPACE_CREATE = {
    "type": "object", "required": ["namespace"], "additionalProperties": False,
    "properties": {**_NAMESPACE_FIELDS,
                   "resource_type_associations": {"type": "array", "items": _ASSOCIATION},
                   "properties": {"type": "object",
                                  "additionalProperties": _PROPERTY_DEFINITION},
                   "objects": {"type": "array", "items": _OBJECT},
                   "tags": {"type": "array", "items": _TAG}},
}
# NOTE: what a client read may be sent back: the read-only fields are let
# through and ignored, as Glance does.
NAMESPACE_UPDATE = {
    "type": "object", "required": ["namespace"], "additionalProperties": False,
    "properties": {**_NAMESPACE_FIELDS, "created_at": {}, "updated_at": {}, "schema": {},
                   "self": {}},
}
TAGS_CREATE = {"type": "object", "required": ["tags"], "additionalProperties": False,
               "properties": {"tags": {"type": "array", "items": _TAG}}}


def _namespace_path(name: str) -> str:
    return f"/v2/metadefs/namespaces/{name}"


def _times(item: dict) -> dict:
    return {k: item[k] for k in ("created_at", "updated_at") if item.get(k)}


def _namespace_view(ns: dict, detail: bool = False) -> dict:
    out = {k: ns[k] for k in ("namespace", "display_name", "description", "visibility",
                              "protected", "owner") if ns.get(k) is not None}
    out["created_at"] = isotime(ns["created_at"])
    out["updated_at"] = isotime(ns["updated_at"] or ns["created_at"])
    out["schema"] = "/v2/schemas/metadefs/namespace"
    out["self"] = _namespace_path(ns["namespace"])
    if ns["resource_types"]:
        out["resource_type_associations"] = ns["resource_types"]
    if detail:
        if ns["properties"]:
            out["properties"] = ns["properties"]
        if ns["objects"]:
            out["objects"] = [_object_view(ns["namespace"], o) for o in ns["objects"]]
        if ns["tags"]:
            out["tags"] = [{"name": t["name"]} for t in ns["tags"]]
    return out


def _object_view(namespace: str, obj: dict) -> dict:
    return {**obj, "schema": "/v2/schemas/metadefs/object",
            "self": f"{_namespace_path(namespace)}/objects/{obj['name']}"}


class NamespacesController:
    def index(self, req: Request) -> dict:
        """The namespaces the caller sees (``visibility``, ``resource_types``
        filters, comma separated)."""
        types = [t for t in req.GET.get("resource_types", "").split(",") if t]
        found = api.get_all(req.context, req.GET.get("visibility"), types)
        return {"namespaces": [_namespace_view(n) for n in found],
                "first": "/v2/metadefs/namespaces",
                "schema": "/v2/schemas/metadefs/namespaces"}

    def show(self, req: Request, namespace: str) -> dict:
        return _namespace_view(api.get(req.context, namespace), detail=True)

    @wsgi.response(201)
    @validation.schema(NAMESPACE_CREATE)
    def create(self, req: Request, body: dict) -> dict:
        return _namespace_view(api.create(req.context, body), detail=True)

    @validation.schema(NAMESPACE_UPDATE)
    def update(self, req: Request, namespace: str, body: dict) -> dict:
        return _namespace_view(api.update(req.context, namespace, body))

    @wsgi.response(204)
    def delete(self, req: Request, namespace: str) -> None:
        """Delete a namespace and all it holds (not a protected one)."""
        api.delete(req.context, namespace)


class ObjectsController:
    def index(self, req: Request, namespace: str) -> dict:
        return {"objects": [_object_view(namespace, o)
                            for o in api.objects(req.context, namespace)],
                "schema": "/v2/schemas/metadefs/objects"}

    def show(self, req: Request, namespace: str, name: str) -> dict:
        return _object_view(namespace, api.get_object(req.context, namespace, name))

    @wsgi.response(201)
    @validation.schema(_OBJECT)
    def create(self, req: Request, namespace: str, body: dict) -> dict:
        return _object_view(namespace, api.create_object(req.context, namespace, body))

    @validation.schema(_OBJECT)
    def update(self, req: Request, namespace: str, name: str, body: dict) -> dict:
        return _object_view(namespace, api.update_object(req.context, namespace, name, body))

    @wsgi.response(204)
    def delete(self, req: Request, namespace: str, name: str) -> None:
        api.delete_object(req.context, namespace, name)


class PropertiesController:
    def index(self, req: Request, namespace: str) -> dict:
        """The namespace's properties, by name (Glance's map)."""
        return {"properties": api.properties(req.context, namespace)}

    def show(self, req: Request, namespace: str, name: str) -> dict:
        return api.get_property(req.context, namespace, name)

    @wsgi.response(201)
    @validation.schema(_PROPERTY_BODY)
    def create(self, req: Request, namespace: str, body: dict) -> dict:
        return api.create_property(req.context, namespace, body)

    @validation.schema(_PROPERTY_BODY)
    def update(self, req: Request, namespace: str, name: str, body: dict) -> dict:
        return api.update_property(req.context, namespace, name, body)

    @wsgi.response(204)
    def delete(self, req: Request, namespace: str, name: str) -> None:
        api.delete_property(req.context, namespace, name)


def _tag_view(tag: dict) -> dict:
    return {"name": tag["name"], **_times(tag)}


class TagsController:
    def index(self, req: Request, namespace: str) -> dict:
        return {"tags": [_tag_view(t) for t in api.tags(req.context, namespace)]}

    @wsgi.response(201)
    @validation.schema(TAGS_CREATE)
    def create_many(self, req: Request, namespace: str, body: dict) -> dict:
        """Set the namespace's tags: replacing them, or adding to them with
        ``X-Openstack-Append: True`` (Glance's header)."""
        append = req.headers.get("X-Openstack-Append", "").lower() == "true"
        made = api.create_tags(req.context, namespace, [t["name"] for t in body["tags"]],
                               append)
        return {"tags": [{"name": t["name"]} for t in made]}

    @wsgi.response(204)
    def delete_all(self, req: Request, namespace: str) -> None:
        api.delete_tags(req.context, namespace)

    def show(self, req: Request, namespace: str, name: str) -> dict:
        return _tag_view(api.get_tag(req.context, namespace, name))

    @wsgi.response(201)
    def create(self, req: Request, namespace: str, name: str) -> dict:
        return _tag_view(api.create_tag(req.context, namespace, name))

    @validation.schema(_TAG)
    def update(self, req: Request, namespace: str, name: str, body: dict) -> dict:
        return _tag_view(api.update_tag(req.context, namespace, name, body["name"]))

    @wsgi.response(204)
    def delete(self, req: Request, namespace: str, name: str) -> None:
        api.delete_tag(req.context, namespace, name)


class ResourceTypesController:
    def index(self, req: Request) -> dict:
        """Every resource type a namespace may be associated with."""
        return {"resource_types": [{"name": n} for n in api.resource_types(req.context)]}

    def associations(self, req: Request, namespace: str) -> dict:
        return {"resource_type_associations": api.associations(req.context, namespace)}

    @wsgi.response(201)
    @validation.schema(_ASSOCIATION)
    def associate(self, req: Request, namespace: str, body: dict) -> dict:
        return api.associate(req.context, namespace, body)

    @wsgi.response(204)
    def dissociate(self, req: Request, namespace: str, name: str) -> None:
        api.dissociate(req.context, namespace, name)


def connect(router: Any, v2: str) -> None:
    """The catalog's routes under ``v2`` (the Image API's /v2 prefix)."""
    ns = f"{v2}/metadefs/namespaces"
    one = f"{ns}/{{namespace}}"
    table: list[tuple[str, str, Any, str]] = [
        (ns, "GET", NamespacesController, "index"),
        (ns, "POST", NamespacesController, "create"),
        (one, "GET", NamespacesController, "show"),
        (one, "PUT", NamespacesController, "update"),
        (one, "DELETE", NamespacesController, "delete"),
        (f"{v2}/metadefs/resource_types", "GET", ResourceTypesController, "index"),
        (f"{one}/resource_types", "GET", ResourceTypesController, "associations"),
        (f"{one}/resource_types", "POST", ResourceTypesController, "associate"),
        (f"{one}/resource_types/{{name}}", "DELETE", ResourceTypesController, "dissociate"),
        (f"{one}/tags", "GET", TagsController, "index"),
        (f"{one}/tags", "POST", TagsController, "create_many"),
        (f"{one}/tags", "DELETE", TagsController, "delete_all"),
    ]
    for part, controller in (("objects", ObjectsController),
                             ("properties", PropertiesController)):
        table += [(f"{one}/{part}", "GET", controller, "index"),
                  (f"{one}/{part}", "POST", controller, "create")]
    parts: tuple[tuple[str, Any], ...] = (("objects", ObjectsController),
                                          ("properties", PropertiesController),
                                          ("tags", TagsController))
    for part, controller in parts:
        table += [(f"{one}/{part}/{{name}}", method, controller, action)
                  for method, action in (("GET", "show"), ("PUT", "update"),
                                         ("DELETE", "delete"))]
    table.append((f"{one}/tags/{{name}}", "POST", TagsController, "create"))
    controllers: dict[Any, Any] = {}
    for path, method, cls, action in table:
        controller = controllers.setdefault(cls, cls())
        router.connect(path, method, controller, action)
