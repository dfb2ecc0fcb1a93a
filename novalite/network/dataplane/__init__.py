"""The per-host network data plane (issue 13): what one host's kernel must hold
for the networks, ports, routers and DHCP the database says are here, made with
the kernel's own tools (iproute2, nftables, dnsmasq).

Every module here works the same way: it is given the whole desired state of
this host (:mod:`novalite.network.dataplane.state`) and makes the kernel match
it, removing what it made earlier that is no longer wanted (every object it
makes carries this deployment's prefix, so it never touches another's). Applying
the same state twice changes nothing.
"""
