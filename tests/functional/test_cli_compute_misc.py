"""The unmodified ``openstack`` CLI against ``novalite-all-in-one`` for key
pairs, quotas and limits, flavors (with extra specs and access lists),
availability zones, compute services and hypervisors."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.functional.test_openstack_cli import all_in_one, openstack  # noqa: F401

pytestmark = pytest.mark.process


def test_keypairs_quotas_and_limits(all_in_one, tmp_path):  # noqa: F811
    aio = all_in_one
    public = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    key_file = tmp_path / "id.pub"
    key_file.write_text(public + " me@here\n")
    created = openstack(aio, "keypair", "create", "--public-key", str(key_file), "cli-key",
                        "-f", "json")
    assert created["name"] == "cli-key" and created["fingerprint"].count(":") == 15
    listed = openstack(aio, "keypair", "list", "-f", "json")
    assert [(k["Name"], k["Fingerprint"]) for k in listed] == [
        ("cli-key", created["fingerprint"])]
    shown = openstack(aio, "keypair", "show", "cli-key", "-f", "json")
    assert shown["fingerprint"] == created["fingerprint"]
    openstack(aio, "keypair", "delete", "cli-key")
    assert openstack(aio, "keypair", "list", "-f", "json") == []

    openstack(aio, "quota", "set", "--instances", "7", "--cores", "11", "admin")
    quotas = {q["Resource"]: q["Limit"]
              for q in openstack(aio, "quota", "show", "--compute", "admin", "-f", "json")}
    assert quotas["instances"] == 7 and quotas["cores"] == 11 and quotas["ram"] == 51200
    limits = {q["Name"]: q["Value"]
              for q in openstack(aio, "limits", "show", "--absolute", "-f", "json")}
    assert limits["max_total_instances"] == 7 and limits["total_instances_used"] == 0
    assert limits["max_total_cores"] == 11


def test_flavors_zones_services_hypervisors(all_in_one):  # noqa: F811
    aio = all_in_one
    created = openstack(aio, "flavor", "create", "--ram", "256", "--vcpus", "1", "--disk", "1",
                        "--private", "--project", "admin", "--property",
                        "hw:cpu_policy=shared", "cli.flavor", "-f", "json")
    assert created["os-flavor-access:is_public"] is False
    shown = openstack(aio, "flavor", "show", "cli.flavor", "-f", "json")
    assert shown["properties"] == {"hw:cpu_policy": "shared"}
    assert len(shown["access_project_ids"]) == 1
    everything = openstack(aio, "flavor", "list", "--all", "-f", "json")
    assert "cli.flavor" in {f["Name"] for f in everything}
    openstack(aio, "flavor", "delete", "cli.flavor")
    assert "cli.flavor" not in {f["Name"] for f in
                                openstack(aio, "flavor", "list", "--all", "-f", "json")}

    zones = openstack(aio, "availability", "zone", "list", "-f", "json")
    assert {"Zone Name": "nova", "Zone Status": "available"} in zones
    services = openstack(aio, "compute", "service", "list", "-f", "json")
    compute = next(s for s in services if s["Binary"] == "nova-compute")
    assert compute["State"] == "up" and compute["Status"] == "enabled"
    openstack(aio, "compute", "service", "set", "--disable", "--disable-reason", "cli test",
              compute["Host"], "nova-compute")
    services = openstack(aio, "compute", "service", "list", "--long", "-f", "json")
    compute = next(s for s in services if s["Binary"] == "nova-compute")
    assert compute["Status"] == "disabled" and compute["Disabled Reason"] == "cli test"

    hypervisors = openstack(aio, "hypervisor", "list", "-f", "json")
    assert len(hypervisors) == 1
    shown = openstack(aio, "hypervisor", "show", str(hypervisors[0]["ID"]), "-f", "json")
    assert shown["hypervisor_hostname"] == hypervisors[0]["Hypervisor Hostname"]
    assert shown["aggregates"] == []
