"""Neutron's errors. Each is also a novalite exception of the matching kind
(NotFound, Conflict, Invalid...), so the Compute API maps it as it maps its
own; the Network API answers it as Neutron does, ``{"NeutronError":
{"type": <class name>, "message": ..., "detail": ""}}``."""

from __future__ import annotations

from novalite import exception


class PortNotFound(exception.NotFound):
    msg_fmt = "Port %(port_id)s could not be found."


class SubnetNotFound(exception.NotFound):
    msg_fmt = "Subnet %(subnet_id)s could not be found."


class NetworkInUse(exception.Conflict):
    msg_fmt = ("Unable to complete operation on network %(net_id)s. There are one or more "
               "ports still in use on the network.")


class SubnetInUse(exception.Conflict):
    msg_fmt = ("Unable to complete operation on subnet %(subnet_id)s: One or more ports have "
               "an IP allocation from this subnet.")


class PortInUse(exception.Conflict):
    msg_fmt = ("Unable to complete operation on port %(port_id)s for network %(net_id)s. "
               "Port already has an attached device %(device_id)s.")


class IpAddressAlreadyAllocated(exception.Conflict):
    msg_fmt = ("IP address %(ip)s already allocated in subnet %(subnet_id)s")


class IpAddressGenerationFailure(exception.Conflict):
    msg_fmt = "No more IP addresses available on network %(net_id)s."


class MacAddressInUse(exception.Conflict):
    msg_fmt = ("Unable to complete operation for network %(net_id)s. The mac address "
               "%(mac)s is in use.")


class NoNetworkAvailable(exception.NotFound):
    msg_fmt = "Unable to create the network. No tenant network is available for allocation."


class InvalidInput(exception.Invalid):
    msg_fmt = "Invalid input for operation: %(error_message)s."


class BadRequest(exception.Invalid):
    msg_fmt = "Bad %(resource)s request: %(msg)s."


class InvalidAllocationPool(exception.Invalid):
    msg_fmt = "The allocation pool %(pool)s is not valid."


class OverlappingAllocationPools(exception.Conflict):
    msg_fmt = ("Found overlapping allocation pools: %(pool_1)s %(pool_2)s for subnet "
               "%(subnet_cidr)s.")


class OutOfBoundsAllocationPool(exception.Invalid):
    msg_fmt = "The allocation pool %(pool)s spans beyond the subnet cidr %(subnet_cidr)s."


class GatewayConflictWithAllocationPools(exception.Conflict):
    msg_fmt = "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s."


class InvalidIpForSubnet(exception.Invalid):
    msg_fmt = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class InvalidIpForNetwork(exception.Invalid):
    msg_fmt = ("IP address %(ip_address)s is not a valid IP for any of the subnets on the "
               "specified network.")


class OverQuota(exception.Conflict):
    msg_fmt = "Quota exceeded for resources: %(overs)s."


class PortLimitExceeded(exception.QuotaError):
    """Nova's, at server create (403): the project's port quota cannot hold
    the ports the servers need."""

    msg_fmt = "Maximum number of ports exceeded"


class PolicyNotAuthorized(exception.Forbidden):
    msg_fmt = "rule:%(action)s is disallowed by policy"


class NotAuthorized(exception.Forbidden):
    msg_fmt = "Not authorized."


class Conflict(exception.Conflict):
    msg_fmt = "%(reason)s"


def neutron_type(exc: Exception) -> str:
    """The ``type`` of Neutron's error body: the class name, as Neutron's."""
    name = type(exc).__name__
    return {"NovaliteException": "NeutronException"}.get(name, name)
