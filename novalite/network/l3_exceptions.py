"""Neutron's errors of security groups, routers and floating IPs (the class
name is the NeutronError ``type``, the base class the HTTP status)."""

from __future__ import annotations

from novalite import exception


class SecurityGroupNotFound(exception.NotFound):
    msg_fmt = "Security group %(id)s does not exist"


class SecurityGroupRuleNotFound(exception.NotFound):
    msg_fmt = "Security group rule %(id)s does not exist"


class SecurityGroupInUse(exception.Conflict):
    msg_fmt = "Security Group %(id)s %(reason)s."


class SecurityGroupCannotRemoveDefault(exception.Conflict):
    msg_fmt = "Insufficient rights for removing default security group."


class SecurityGroupCannotUpdateDefault(exception.Conflict):
    msg_fmt = "Updating default security group not allowed."


class SecurityGroupDefaultAlreadyExists(exception.Conflict):
    msg_fmt = "Default security group already exists."


class SecurityGroupRuleExists(exception.Conflict):
    msg_fmt = "Security group rule already exists. Rule id is %(rule_id)s."


class DuplicateSecurityGroupRuleInPost(exception.Conflict):
    msg_fmt = "Duplicate Security Group Rule in POST."


class SecurityGroupInvalidPortRange(exception.Invalid):
    msg_fmt = "For TCP/UDP protocols, port_range_min must be <= port_range_max"


class SecurityGroupInvalidPortValue(exception.Invalid):
    msg_fmt = "Invalid value for port %(port)s"


class SecurityGroupInvalidIcmpValue(exception.Invalid):
    msg_fmt = "Invalid value for ICMP %(field)s (%(attr)s) %(value)s. It must be 0 to 255."


class SecurityGroupMissingIcmpType(exception.Invalid):
    msg_fmt = ("ICMP code (port-range-max) %(value)s is provided but ICMP type "
               "(port-range-min) is missing.")


class SecurityGroupProtocolRequiredWithPorts(exception.Invalid):
    msg_fmt = "Must also specify protocol if port range is given."


class SecurityGroupInvalidProtocolForPort(exception.Invalid):
    msg_fmt = ("Invalid protocol %(protocol)s for port range, only supported for "
               "%(valid_port_protocols)s protocols.")


class SecurityGroupRuleInvalidProtocol(exception.Invalid):
    msg_fmt = ("Security group rule protocol %(protocol)s not supported. Only protocol values "
               "%(values)s and integer representations [0 to 255] are supported.")


class SecurityGroupRuleInvalidEtherType(exception.Invalid):
    msg_fmt = ("Security group rule for ethertype '%(ethertype)s' not supported. Allowed "
               "values are %(values)s.")


class SecurityGroupRemoteGroupAndRemoteIpPrefix(exception.Invalid):
    msg_fmt = "Only remote_ip_prefix or remote_group_id may be provided."


class SecurityGroupRuleParameterConflict(exception.Invalid):
    msg_fmt = "Conflicting value ethertype %(ethertype)s for CIDR %(cidr)s"


class SecurityGroupEthertypeConflictWithProtocol(exception.Invalid):
    msg_fmt = "Invalid ethertype %(ethertype)s for protocol %(protocol)s."


class RouterNotFound(exception.NotFound):
    msg_fmt = "Router %(router_id)s could not be found"


class RouterInUse(exception.Conflict):
    msg_fmt = "Router %(router_id)s %(reason)s"


class RouterInterfaceNotFound(exception.NotFound):
    msg_fmt = "Router %(router_id)s does not have an interface with id %(port_id)s"


class RouterInterfaceNotFoundForSubnet(exception.NotFound):
    msg_fmt = "Router %(router_id)s has no interface on subnet %(subnet_id)s"


class RouterInterfaceInUseByFloatingIP(exception.Conflict):
    msg_fmt = ("Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be "
               "deleted, as it is required by one or more floating IPs.")


class RouterExternalGatewayInUseByFloatingIp(exception.Conflict):
    msg_fmt = ("Gateway cannot be updated for router %(router_id)s, since a gateway to "
               "external network %(net_id)s is required by one or more floating IPs.")


class BadRequest(exception.Invalid):
    msg_fmt = "Bad %(resource)s request: %(msg)s."


class FloatingIPNotFound(exception.NotFound):
    msg_fmt = "Floating IP %(floatingip_id)s could not be found"


class ExternalGatewayForFloatingIPNotFound(exception.NotFound):
    msg_fmt = ("External network %(external_network_id)s is not reachable from subnet "
               "%(subnet_id)s.  Therefore, cannot associate Port %(port_id)s with a "
               "Floating IP.")


class FloatingIPPortAlreadyAssociated(exception.Conflict):
    msg_fmt = ("Cannot associate floating IP %(floating_ip_address)s (%(fip_id)s) with port "
               "%(port_id)s using fixed IP %(fixed_ip)s, as that fixed IP already has a "
               "floating IP on external network %(net_id)s.")


class ServicePortInUse(exception.Conflict):
    msg_fmt = "Port %(port_id)s cannot be deleted directly via the port API: %(reason)s."


class SecurityGroupNotFoundForServer(exception.NotFound):
    msg_fmt = "Security group %(name)s not found for project %(project_id)s."


class NoUniqueMatch(exception.Conflict):
    msg_fmt = "%(reason)s"


class SecurityGroupExistsForInstance(exception.Invalid):
    msg_fmt = "Security group %(security_group_id)s is already associated with the instance %(instance_id)s"


class SecurityGroupNotExistsForInstance(exception.Invalid):
    msg_fmt = "Security group %(security_group_id)s is not associated with the instance %(instance_id)s"


class SecurityGroupCannotBeApplied(exception.Invalid):
    msg_fmt = ("Network requires port_security_enabled and subnet associated in order to "
               "apply security groups.")
