"""The hypervisor's name for an instance's guest: re-exported from
``novalite.virt.naming``, where the driver contract defines it."""

from novalite.virt.naming import instance_name

__all__ = ["instance_name"]
