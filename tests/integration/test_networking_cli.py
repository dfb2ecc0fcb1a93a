"""The unmodified ``openstack`` CLI and ``novalite-manage network`` against
``novalite-all-in-one`` (fake driver: addresses are allocated from the
database and shown, nothing is plugged on this host)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.functional.test_openstack_cli import AllInOne, manage, openstack, openstack_proc
from tests.procs import free_port

pytestmark = pytest.mark.process


@pytest.fixture
def aio(tmp_path) -> Iterator[AllInOne]:
    a = AllInOne(str(tmp_path / "state"), free_port())
    try:
        yield a.start()
    finally:
        a.stop()


def test_server_create_with_network_by_name_shows_its_address(aio: AllInOne) -> None:
    out = manage(aio, "network", "create", "extra", "--cidr", "10.231.7.0/24", "--bridge",
                 "nlbrx")
    assert "10.231.7.1" in out
    listed = manage(aio, "network", "list")
    assert "private" in listed and "extra" in listed

    networks = openstack(aio, "network", "list", "-f", "json")
    assert sorted(n["Name"] for n in networks) == ["extra", "private"]
    extra = [n for n in networks if n["Name"] == "extra"][0]

    created = openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image",
                        "novalite-tiny", "--network", "extra", "--wait", "net-cli",
                        "-f", "json")
    assert created["status"] == "ACTIVE"
    shown = openstack(aio, "server", "show", "net-cli", "-f", "json")
    addresses = shown["addresses"]
    assert list(addresses) == ["extra"], addresses
    assert addresses["extra"][0].startswith("10.231.7.")

    # Without --network: the default private network of the all-in-one.
    openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image", "novalite-tiny",
              "--wait", "net-default", "-f", "json")
    shown = openstack(aio, "server", "show", "net-default", "-f", "json")
    assert list(shown["addresses"]) == ["private"], shown["addresses"]

    bad = openstack_proc(aio, "server", "create", "--flavor", "m1.tiny", "--image",
                         "novalite-tiny", "--network", "no-such-net", "x")
    assert bad.returncode != 0 and "no-such-net" in bad.stderr

    # With a network endpoint in the catalog, quota show asks it too.
    quotas = openstack(aio, "quota", "show", "-f", "json")
    assert isinstance(quotas, (list, dict)) and quotas
    openstack(aio, "quota", "show", "--usage", "-f", "json")

    actions = openstack(aio, "server", "event", "list", "net-cli", "-f", "json")
    assert [a["Action"] for a in actions] == ["create"]
    assert openstack(aio, "network", "show", extra["ID"], "-f", "json")["name"] == "extra"

    openstack(aio, "server", "delete", "--wait", "net-cli", "net-default")
    rows = manage(aio, "network", "list").splitlines()[1:]
    assert len(rows) == 2 and all(r.split()[-1] == "0" for r in rows), rows
