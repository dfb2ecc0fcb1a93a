"""Flat networking (Nova's flat manager, reduced): networks with a CIDR, a
gateway and a Linux bridge; addresses allocated from the database; the
compute host creates the bridge; the guest learns its address from the
config drive's ``network_data.json`` (see docs/networking.md)."""
