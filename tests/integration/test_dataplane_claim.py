"""Two deployments' data planes on one kernel (issue 13): the all-in-one's
claim of a data plane prefix, VNIs and DevStack's subnets against real
kernel state that the test makes.

The test's "host" is a network namespace it makes (so the addresses, routes
and VXLAN devices it puts there cannot disturb a deployment the machine
runs), its prefixes are its own, and its claims go to a registry directory
of its own; everything is removed at the end, also on failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from novalite.network import agent_service, manage
from novalite.network.dataplane import names

pytestmark = pytest.mark.integration


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def host() -> Iterator[dict[str, Any]]:
    while True:
        # NOTE: a prefix whose next candidates have other route protocol
        # numbers (100-249 from a digest), so only what the test made counts.
        tag = uuid.uuid4().hex[:4]
        protocols = {agent_service.route_protocol(p)
                     for p in (f"c{tag}", f"c{tag}1", f"c{tag}2")}
        if len(protocols) == 3:
            break
    ns, base = f"claim{tag}", f"c{tag}"
    work = tempfile.mkdtemp(prefix="dataplane-claim-")
    _ip("netns", "add", ns)
    made_ns: list[str] = []
    try:
        _ip("-n", ns, "link", "set", "lo", "up")
        yield {"ns": ns, "base": base, "work": work,
               "registry": os.path.join(work, "registry"), "made_ns": made_ns}
    finally:
        for other in made_ns:
            subprocess.run(["ip", "netns", "del", other], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def _state(host: dict, name: str) -> str:
    path = os.path.join(host["work"], name)
    os.makedirs(path, exist_ok=True)
    return path


def test_an_empty_host_gets_devstacks_defaults(host: dict) -> None:
    claim = manage.claim_dataplane(_state(host, "a"), host["base"], ["1000:65000"],
                                   netns=host["ns"], registry=host["registry"])
    assert claim == manage.DataplaneClaim(host["base"], ("1000:65000",))
    assert manage.free_vxlan_cidrs(netns=host["ns"]) == ("172.24.4.0/24", "10.0.0.0/26")


def test_another_deployments_kernel_objects_move_the_claim_on(host: dict) -> None:
    ns, base = host["ns"], host["base"]
    # another deployment's data plane: its external bridge holding
    # 172.24.4.1, its host route to its private subnet, a VXLAN device with
    # a VNI of the default range and a device carrying its prefix's mark
    _ip("-n", ns, "link", "add", "ext0", "type", "bridge")
    _ip("-n", ns, "link", "set", "ext0", "up", "alias", names.owner_mark(base))
    _ip("-n", ns, "addr", "add", "172.24.4.1/24", "dev", "ext0")
    _ip("-n", ns, "route", "add", "10.0.0.0/26", "via", "172.24.4.2", "proto",
        str(agent_service.route_protocol(base)))
    _ip("-n", ns, "link", "add", "vx0", "type", "vxlan", "id", "1001", "local",
        "172.24.4.1", "dstport", "4789", "nolearning")

    state = _state(host, "second")
    claim = manage.claim_dataplane(state, base, ["1000:65000"], netns=ns,
                                   registry=host["registry"])
    assert claim == manage.DataplaneClaim(f"{base}1", ("101000:165000",))
    assert manage.free_vxlan_cidrs(netns=ns) == ("172.24.5.0/24", "10.0.0.64/26")

    # the operator's prefix stays; only the VNIs move off the used one
    kept = manage.claim_dataplane(state, base, ["1000:65000"], keep_prefix=True, netns=ns,
                                  registry=host["registry"])
    assert kept == manage.DataplaneClaim(base, ("101000:165000",))

    # only the VXLAN device left: the prefix is free, the VNIs are not
    _ip("-n", ns, "link", "del", "ext0")
    _ip("-n", ns, "route", "flush", "proto", str(agent_service.route_protocol(base)))
    claim = manage.claim_dataplane(state, base, ["1000:65000"], netns=ns,
                                   registry=host["registry"])
    assert claim.vni_ranges == ("101000:165000",)
    _ip("-n", ns, "link", "del", "vx0")
    assert manage.claim_dataplane(state, base, ["1000:65000"], netns=ns,
                                  registry=host["registry"]) == \
        manage.DataplaneClaim(base, ("1000:65000",))


def test_a_namespace_of_the_prefix_takes_it(host: dict) -> None:
    base = host["base"]
    dhcp_ns = names.dhcp_namespace(base, str(uuid.uuid4()))
    _ip("netns", "add", dhcp_ns)
    host["made_ns"].append(dhcp_ns)
    assert manage.prefix_in_use(base, netns=host["ns"]) == [f"namespace {dhcp_ns}"]
    claim = manage.claim_dataplane(_state(host, "a"), base, ["1000:65000"],
                                   netns=host["ns"], registry=host["registry"])
    assert claim.prefix == f"{base}1"


def test_a_live_deployments_registered_claim_is_kept_until_its_state_is_gone(
        host: dict) -> None:
    base, registry = host["base"], host["registry"]
    first, second = _state(host, "first"), _state(host, "second")
    # the first deployment claimed the defaults (its objects not made yet)
    manage.register_claim(manage.DataplaneClaim(base, ("1000:65000",)), first, registry)
    claim = manage.claim_dataplane(second, base, ["1000:65000"], netns=host["ns"],
                                   registry=registry)
    assert claim == manage.DataplaneClaim(f"{base}1", ("101000:165000",))
    manage.register_claim(claim, second, registry)
    assert set(manage.registered(registry)) == {base, f"{base}1"}
    # its own claim is no obstacle to a deployment: a restart finds the same
    assert manage.claim_dataplane(first, base, ["1000:65000"], netns=host["ns"],
                                  registry=registry).prefix == base

    third = _state(host, "third")
    assert manage.claim_dataplane(third, base, ["1000:65000"], netns=host["ns"],
                                  registry=registry) == \
        manage.DataplaneClaim(f"{base}2", ("201000:265000",))
    # the first deployment's state is gone: its claim no longer holds
    shutil.rmtree(first)
    assert manage.claim_dataplane(third, base, ["1000:65000"], netns=host["ns"],
                                  registry=registry) == \
        manage.DataplaneClaim(base, ("1000:65000",))
    manage.unregister_claim(base, registry)
    assert set(manage.registered(registry)) == {f"{base}1"}
