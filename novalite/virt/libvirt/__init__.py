"""The libvirt driver: QEMU/KVM guests through libvirt-python."""

from novalite.virt.libvirt.driver import LibvirtDriver

__all__ = ["LibvirtDriver"]
