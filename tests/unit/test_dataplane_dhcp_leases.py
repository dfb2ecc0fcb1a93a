"""dnsmasq keeps the lease of a port that left until it expires: the data
plane finds those lines of its lease file (novalite/network/dataplane/dhcp.py)
and restarts dnsmasq without them. Seen end to end in
tests/integration/test_debian_image.py (the Debian guest's DHCP lease was
still in the lease file after its server and port were deleted)."""

from __future__ import annotations

from novalite.network.dataplane import dhcp

LEASES = """\
1765040000 fa:16:3e:3b:f9:a3 10.200.47.67 deb-abc *
1765040100 FA:16:3E:00:00:02 10.200.47.68 host-10-200-47-68 01:fa:16:3e:00:00:02
1765040200 fa:16:3e:00:00:03 10.200.47.69 * *
duid 00:01:00:01:2c:5f:aa:bb:fa:16:3e:00:00:09
1765040300 1234 fd00::5 * 00:01:00:01
"""


def test_leases_of_ports_that_left_are_stale() -> None:
    wanted = {("fa:16:3e:00:00:02", "10.200.47.68"), ("fa:16:3e:00:00:03", "10.200.47.99")}
    # The first port is gone, the third's address changed; the second (MAC
    # in capitals in the file) is still served; DUID and IPv6 lines are left.
    assert dhcp.stale_leases(LEASES, wanted) == [
        "1765040000 fa:16:3e:3b:f9:a3 10.200.47.67 deb-abc *",
        "1765040200 fa:16:3e:00:00:03 10.200.47.69 * *",
    ]


def test_no_lease_file_or_every_lease_served_means_nothing_stale() -> None:
    assert dhcp.stale_leases("", set()) == []
    wanted = {("fa:16:3e:3b:f9:a3", "10.200.47.67"), ("fa:16:3e:00:00:02", "10.200.47.68"),
              ("fa:16:3e:00:00:03", "10.200.47.69")}
    assert dhcp.stale_leases(LEASES, wanted) == []
