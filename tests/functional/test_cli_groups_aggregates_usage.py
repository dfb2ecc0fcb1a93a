"""The unmodified ``openstack`` CLI against ``novalite-all-in-one`` for server
groups (a server created into one), host aggregates (with a zone and
properties) and usage, at the microversion the CLI negotiates."""

from __future__ import annotations

import pytest

from tests.functional.test_openstack_cli import all_in_one, openstack  # noqa: F401

pytestmark = pytest.mark.process


def test_server_groups_aggregates_and_usage(all_in_one):  # noqa: F811
    aio = all_in_one
    group = openstack(aio, "server", "group", "create", "--policy", "anti-affinity",
                      "cli-group", "-f", "json")
    assert group["name"] == "cli-group" and group["policy"] == "anti-affinity"
    server = openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image",
                       "novalite-tiny", "--hint", f"group={group['id']}", "--wait",
                       "cli-member", "-f", "json")
    assert server["status"] == "ACTIVE"
    shown = openstack(aio, "server", "group", "show", "cli-group", "-f", "json")
    assert shown["members"] in ([server["id"]], server["id"])

    # NOTE: the CLI asks detailed=True, which Nova (and so novalite) reads
    # as not detailed ("1" only): the Servers column stays empty, the totals count.
    usage = openstack(aio, "usage", "list", "-f", "json")
    assert len(usage) == 1 and usage[0]["CPU Hours"] > 0 and usage[0]["RAM MB-Hours"] > 0

    openstack(aio, "server", "delete", "--wait", "cli-member")
    openstack(aio, "server", "group", "delete", "cli-group")
    assert openstack(aio, "server", "group", "list", "-f", "json") == []

    host = openstack(aio, "compute", "service", "list", "--service", "nova-compute",
                     "-f", "json")[0]["Host"]
    agg = openstack(aio, "aggregate", "create", "--zone", "cli-zone", "--property",
                    "ssd=true", "cli-agg", "-f", "json")
    assert agg["name"] == "cli-agg" and agg["availability_zone"] == "cli-zone"
    openstack(aio, "aggregate", "add", "host", "cli-agg", host)
    shown = openstack(aio, "aggregate", "show", "cli-agg", "-f", "json")
    assert shown["hosts"] == [host] and shown["properties"] == {"ssd": "true"}
    listed = openstack(aio, "aggregate", "list", "--long", "-f", "json")
    assert [(a["Name"], a["Availability Zone"]) for a in listed] == [("cli-agg", "cli-zone")]
    openstack(aio, "aggregate", "remove", "host", "cli-agg", host)
    openstack(aio, "aggregate", "delete", "cli-agg")
