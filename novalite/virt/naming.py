"""The hypervisor's name for an instance's guest.

``[libvirt] instance_name_template`` is formatted as Nova formats it: with the
instance's integer id when the template takes one (Nova's ``instance-%08x``),
else with the named fields ``id``, ``uuid`` and ``hostname``. The default,
``instance-%(uuid)s``, is unique across deployments: an integer id is unique
only within one database, so two deployments (or one whose state was removed)
sharing a libvirtd would otherwise both name a guest ``instance-00000001``.

NOTE: the driver names its guests, so this lives in virt (below compute);
``novalite.compute.naming`` re-exports it for the API's views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from novalite.conf import CONF

if TYPE_CHECKING:
    from novalite.objects.instance import Instance


def instance_name(instance: Instance) -> str:
    template = CONF.libvirt.instance_name_template
    try:
        return str(template % instance.id)
    except (TypeError, ValueError, KeyError):
        return str(template % {"id": instance.id, "uuid": instance.uuid,
                               "hostname": _field(instance, "hostname")})


def _field(instance: Instance, name: str) -> str:
    is_set = getattr(instance, "obj_attr_is_set", None)
    if is_set is not None and not is_set(name):
        return ""
    return str(getattr(instance, name, None) or "")
