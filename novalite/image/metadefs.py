"""Metadata definitions catalog (Glance's metadefs): namespaces that describe
the properties a kind of resource may carry (``OS::Glance::Image``,
``OS::Nova::Flavor``...), with their properties, objects (named groups of
properties), tags and resource type associations.

Who may do what follows Glance's default policy: admins create, change and
delete; everyone reads the public namespaces and the projects their own
private ones. A namespace the caller may not see does not exist for them.
A protected namespace is not deleted until unprotected.
"""

from __future__ import annotations

from typing import Any

from oslo_utils import timeutils

from novalite import exception
from novalite.db import metadefs as db

# NOTE: the resource types Glance's catalog ships with; an association
# naming another one adds it, as Glance does.
RESOURCE_TYPES = ("OS::Glance::Image", "OS::Glance::Snapshot", "OS::Cinder::Volume",
                  "OS::Cinder::Snapshot", "OS::Nova::Flavor", "OS::Nova::Server",
                  "OS::Nova::Aggregate")


class NotFoundIn(exception.NotFound):
    msg_fmt = "Metadata definition %(kind)s %(name)s was not found in namespace %(namespace)s."


class ExistsIn(exception.Conflict):
    msg_fmt = ("A metadata definition %(kind)s with name=%(name)s already exists in "
               "namespace=%(namespace)s.")


def _now() -> str:
    return timeutils.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


def _admin(context: Any, action: str) -> None:
    if not getattr(context, "is_admin", False):
        raise exception.ImageForbidden(reason=f"You are not authorized to complete {action} "
                                              "action.")


def _visible(context: Any, namespace: dict) -> bool:
    return bool(getattr(context, "is_admin", False)) or namespace["visibility"] == "public" \
        or (namespace["owner"] is not None
            and namespace["owner"] == getattr(context, "project_id", None))


# --- namespaces ---------------------------------------------------------------

def get(context: Any, namespace: str) -> dict:
    found = db.get(namespace)
    if not _visible(context, found):
        raise db.NamespaceNotFound(namespace=namespace)
    return found


def get_all(context: Any, visibility: str | None = None,
            resource_types: list[str] | None = None) -> list[dict]:
    found = [n for n in db.get_all() if _visible(context, n)]
    if visibility is not None:
        found = [n for n in found if n["visibility"] == visibility]
    if resource_types:
        found = [n for n in found
                 if {a["name"] for a in n["resource_types"]} & set(resource_types)]
    return found


def create(context: Any, body: dict) -> dict:
    """A namespace, with the parts the body already names."""
    _admin(context, "add_metadef_namespace")
    now = _now()
    values = {k: body.get(k) for k in ("namespace", "display_name", "description")}
    values.update(visibility=body.get("visibility", "private"),
                  protected=body.get("protected", False),
                  owner=body.get("owner", getattr(context, "project_id", None)),
                  resource_types=[_association(a, now) for a in
                                  body.get("resource_type_associations", [])],
                  properties=dict(body.get("properties", {})),
                  objects=[{**o, "created_at": now, "updated_at": now}
                           for o in body.get("objects", [])],
                  tags=[{"name": t["name"], "created_at": now, "updated_at": now}
                        for t in body.get("tags", [])])
    return db.create(values)


def update(context: Any, namespace: str, body: dict) -> dict:
    """Replace the namespace's own attributes (a new ``namespace`` renames it)."""
    get(context, namespace)
    _admin(context, "modify_metadef_namespace")
    values = {"namespace": body["namespace"], "display_name": body.get("display_name"),
              "description": body.get("description"),
              "visibility": body.get("visibility", "private"),
              "protected": body.get("protected", False)}
    if "owner" in body:
        values["owner"] = body["owner"]
    try:
        return db.update(namespace, lambda current: values)
    except db.NamespaceExists:
        raise db.NamespaceExists(namespace=body["namespace"]) from None


def delete(context: Any, namespace: str) -> None:
    found = get(context, namespace)
    _admin(context, "delete_metadef_namespace")
    if found["protected"]:
        raise exception.ImageForbidden(reason=f"Namespace {namespace} is protected and "
                                              "cannot be deleted.")
    db.delete(namespace)


# --- parts: objects, properties, tags, resource type associations ------------

def _change(context: Any, namespace: str, action: str, part: str, change: Any) -> Any:
    """Apply ``change`` (the part's current value → its new value and the
    answer) to one part of a namespace the caller sees, as an admin."""
    get(context, namespace)
    _admin(context, action)
    answer: list[Any] = []

    def apply(current: dict) -> dict:
        new, result = change(current[part])
        answer.append(result)
        return {part: new}

    db.update(namespace, apply)
    return answer[0] if answer else None


def _find(items: list[dict], name: str, kind: str, namespace: str) -> dict:
    for item in items:
        if item["name"] == name:
            return item
    raise NotFoundIn(kind=kind, name=name, namespace=namespace)


def _unique(items: list[dict], name: str, kind: str, namespace: str,
            but: str | None = None) -> None:
    if name != but and any(i["name"] == name for i in items):
        raise ExistsIn(kind=kind, name=name, namespace=namespace)


def objects(context: Any, namespace: str) -> list[dict]:
    return list(get(context, namespace)["objects"])


def get_object(context: Any, namespace: str, name: str) -> dict:
    return _find(objects(context, namespace), name, "object", namespace)


def create_object(context: Any, namespace: str, body: dict) -> dict:
    def add(items: list[dict]) -> tuple[list[dict], dict]:
        _unique(items, body["name"], "object", namespace)
        now = _now()
        made = {**body, "created_at": now, "updated_at": now}
        return [*items, made], made
    result: dict = _change(context, namespace, "add_metadef_object", "objects", add)
    return result


def update_object(context: Any, namespace: str, name: str, body: dict) -> dict:
    def replace(items: list[dict]) -> tuple[list[dict], dict]:
        old = _find(items, name, "object", namespace)
        _unique(items, body["name"], "object", namespace, but=name)
        new = {**body, "created_at": old["created_at"], "updated_at": _now()}
        return [new if i is old else i for i in items], new
    result: dict = _change(context, namespace, "modify_metadef_object", "objects", replace)
    return result


def delete_object(context: Any, namespace: str, name: str) -> None:
    def remove(items: list[dict]) -> tuple[list[dict], None]:
        old = _find(items, name, "object", namespace)
        return [i for i in items if i is not old], None
    _change(context, namespace, "delete_metadef_object", "objects", remove)


def properties(context: Any, namespace: str) -> dict[str, dict]:
    return dict(get(context, namespace)["properties"])


def get_property(context: Any, namespace: str, name: str) -> dict:
    found = properties(context, namespace).get(name)
    if found is None:
        raise NotFoundIn(kind="property", name=name, namespace=namespace)
    return {**found, "name": name}


def create_property(context: Any, namespace: str, body: dict) -> dict:
    def add(items: dict) -> tuple[dict, dict]:
        if body["name"] in items:
            raise ExistsIn(kind="property", name=body["name"], namespace=namespace)
        return {**items, body["name"]: _property(body)}, body
    result: dict = _change(context, namespace, "add_metadef_property", "properties", add)
    return result


def update_property(context: Any, namespace: str, name: str, body: dict) -> dict:
    def replace(items: dict) -> tuple[dict, dict]:
        if name not in items:
            raise NotFoundIn(kind="property", name=name, namespace=namespace)
        if body["name"] != name and body["name"] in items:
            raise ExistsIn(kind="property", name=body["name"], namespace=namespace)
        rest = {k: v for k, v in items.items() if k != name}
        return {**rest, body["name"]: _property(body)}, body
    result: dict = _change(context, namespace, "modify_metadef_property", "properties",
                           replace)
    return result


def delete_property(context: Any, namespace: str, name: str) -> None:
    def remove(items: dict) -> tuple[dict, None]:
        if name not in items:
            raise NotFoundIn(kind="property", name=name, namespace=namespace)
        return {k: v for k, v in items.items() if k != name}, None
    _change(context, namespace, "remove_metadef_property", "properties", remove)


def _property(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "name"}


def tags(context: Any, namespace: str) -> list[dict]:
    return list(get(context, namespace)["tags"])


def get_tag(context: Any, namespace: str, name: str) -> dict:
    return _find(tags(context, namespace), name, "tag", namespace)


def create_tags(context: Any, namespace: str, names: list[str], append: bool) -> list[dict]:
    """Set the namespace's tags (replacing them unless ``append``)."""
    if len(set(names)) != len(names):
        raise exception.Invalid(reason="A metadata tag name appears twice in the request.")

    def put(items: list[dict]) -> tuple[list[dict], list[dict]]:
        kept = items if append else []
        for name in names:
            _unique(kept, name, "tag", namespace)
        now = _now()
        made = [{"name": n, "created_at": now, "updated_at": now} for n in names]
        return [*kept, *made], made
    result: list[dict] = _change(context, namespace, "add_metadef_tags", "tags", put)
    return result


def create_tag(context: Any, namespace: str, name: str) -> dict:
    return create_tags(context, namespace, [name], append=True)[0]


def update_tag(context: Any, namespace: str, name: str, new_name: str) -> dict:
    def rename(items: list[dict]) -> tuple[list[dict], dict]:
        old = _find(items, name, "tag", namespace)
        _unique(items, new_name, "tag", namespace, but=name)
        new = {**old, "name": new_name, "updated_at": _now()}
        return [new if i is old else i for i in items], new
    result: dict = _change(context, namespace, "modify_metadef_tag", "tags", rename)
    return result


def delete_tag(context: Any, namespace: str, name: str) -> None:
    def remove(items: list[dict]) -> tuple[list[dict], None]:
        old = _find(items, name, "tag", namespace)
        return [i for i in items if i is not old], None
    _change(context, namespace, "delete_metadef_tag", "tags", remove)


def delete_tags(context: Any, namespace: str) -> None:
    _change(context, namespace, "delete_metadef_tags", "tags", lambda items: ([], None))


def resource_types(context: Any) -> list[str]:
    """Every resource type: those shipped and any an association added."""
    named = dict.fromkeys(RESOURCE_TYPES)
    for namespace in get_all(context):
        named.update(dict.fromkeys(a["name"] for a in namespace["resource_types"]))
    return list(named)


def associations(context: Any, namespace: str) -> list[dict]:
    return list(get(context, namespace)["resource_types"])


def associate(context: Any, namespace: str, body: dict) -> dict:
    def add(items: list[dict]) -> tuple[list[dict], dict]:
        _unique(items, body["name"], "resource type association", namespace)
        made = _association(body, _now())
        return [*items, made], made
    result: dict = _change(context, namespace, "add_metadef_resource_type_association",
                           "resource_types", add)
    return result


def dissociate(context: Any, namespace: str, name: str) -> None:
    def remove(items: list[dict]) -> tuple[list[dict], None]:
        old = _find(items, name, "resource type association", namespace)
        return [i for i in items if i is not old], None
    _change(context, namespace, "remove_metadef_resource_type_association",
            "resource_types", remove)


def _association(body: dict, now: str) -> dict:
    return {**{k: body[k] for k in ("name", "prefix", "properties_target") if k in body},
            "created_at": now, "updated_at": now}
