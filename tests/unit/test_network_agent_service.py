"""The per-host network agent's control-plane side (SQLite): the state the
conductor hands out (the L3 host also gets the external networks, the
metadata target), the all-in-one's DevStack networks with dataplane =
vxlan, the host routes via routers, and the Network API's write routes that
notify the agents."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

from novalite.conf import CONF
from novalite.db import api as db_api
from novalite.db import migration
from novalite.db import network as db
from novalite.network import agent_service, manage
from novalite.network.dataplane import agent
from novalite.network.dataplane import state as st


@pytest.fixture
def database(tmp_path: Any) -> Iterator[None]:
    CONF.set_override("connection", f"sqlite:///{tmp_path}/novalite.sqlite", group="database")
    CONF.set_override("dhcp_host", "h1", group="network")
    CONF.set_override("dataplane", "vxlan", group="network")
    db_api.dispose()
    migration.db_sync()
    try:
        yield
    finally:
        db_api.dispose()
        for name in ("dhcp_host", "dataplane", "l3_host"):
            CONF.clear_override(name, group="network")
        CONF.clear_override("metadata_proxy_shared_secret", group="metadata")
        CONF.clear_override("connection", group="database")


def test_the_all_in_one_makes_devstacks_networks(database: None) -> None:
    private = manage.ensure_default_network()
    assert private is not None
    nets = {n["name"]: n for n in db.network_get_all()}
    public = nets["public"]
    assert public["router_external"] and not public["shared"]
    (pub_sub,) = db.subnet_get_all(network_id=public["id"])
    assert pub_sub["cidr"] == "172.24.4.0/24" and pub_sub["gateway_ip"] == "172.24.4.1"
    assert not pub_sub["enable_dhcp"]
    assert nets[CONF.network.default_network_name]["uuid"] == private["uuid"]
    (priv_sub,) = db.subnet_get_all(network_id=private["id"])
    assert priv_sub["cidr"] == "10.0.0.0/26" and priv_sub["enable_dhcp"]
    # Made once: a second start changes nothing.
    assert manage.ensure_default_network() is None
    assert len(db.network_get_all()) == 2
    if importlib.util.find_spec("novalite.db.routers") is not None:
        routers: Any = importlib.import_module("novalite.db.routers")
        (router,) = routers.router_get_all()
        assert router["name"] == "router1" and router["gateway_port"] is not None


def test_the_state_as_the_conductor_gives_it(database: None) -> None:
    CONF.set_override("metadata_proxy_shared_secret", "s3cret", group="metadata")
    public = db.network_create({"name": "public", "project_id": None,
                                "router_external": True, "cidr": "172.24.4.0/24",
                                "gateway": "172.24.4.1"})
    net = db.network_create({"name": "a", "project_id": "p", "cidr": "10.1.0.0/24",
                             "gateway": "10.1.0.1"})
    db.fixed_ip_allocate(net["uuid"], "vm", "h2", "10.1.0.5")

    # A compute host: its port's network only; the JSON form loads back.
    h2 = agent.load_state(agent_service.host_state_json("h2"))
    assert [n.id for n in h2.networks] == [net["uuid"]]
    assert [p.fixed_ips[0][1] for p in h2.ports] == ["10.1.0.5"]
    assert h2.metadata == st.Metadata(service_url=f"http://127.0.0.1:{CONF.metadata.port}",
                                      shared_secret="s3cret")
    # The DHCP host is the L3 host by default: it also has the external network.
    h1 = agent.load_state(agent_service.host_state_json("h1"))
    ext = [n for n in h1.networks if n.external]
    assert [n.id for n in ext] == [public["uuid"]]
    assert ext[0].subnets[0].gateway_ip == "172.24.4.1"
    # Elsewhere, not.
    CONF.set_override("l3_host", "h3", group="network")
    h1 = agent.load_state(agent_service.host_state_json("h1"))
    assert not [n for n in h1.networks if n.external]
    # No secret, no metadata proxies.
    CONF.set_override("metadata_proxy_shared_secret", "", group="metadata")
    assert agent.load_state(agent_service.host_state_json("h2")).metadata is None


def test_a_moving_servers_ports_are_on_both_hosts(database: None) -> None:
    from novalite.db import instance_migrations

    net = db.network_create({"name": "a", "project_id": "p", "cidr": "10.1.0.0/24",
                             "gateway": "10.1.0.1"})
    port = db.fixed_ip_allocate(net["uuid"], "vm", "h2", "10.1.0.5")
    db.fixed_ip_allocate(net["uuid"], "other", "h4", "10.1.0.6")
    endpoints = {"h1": "192.0.2.1", "h2": "192.0.2.2", "h3": "192.0.2.3",
                 "h4": "192.0.2.4"}

    def state(host: str) -> st.HostState:
        from novalite.network import hoststate

        return hoststate.build_host_state(host, endpoints=endpoints,
                                          extra_bindings=agent_service.moving_ports())

    assert [p.id for p in state("h3").ports] == []
    mig = instance_migrations.migration_create({
        "instance_uuid": "vm", "source_compute": "h2", "dest_compute": "h3",
        "status": "migrating", "migration_type": "live-migration"})
    assert agent_service.moving_ports() == {port["uuid"]: {"h2", "h3"}}
    # The destination has the port (and its network, peering with the
    # others) before the server's host changes; the source keeps it.
    h3 = state("h3")
    assert [p.id for p in h3.ports] == [port["uuid"]]
    assert h3.networks[0].peers == ("192.0.2.1", "192.0.2.2", "192.0.2.4")
    assert [p.id for p in state("h2").ports] == [port["uuid"]]
    # A third host sends the network's broadcasts to both.
    assert {"192.0.2.2", "192.0.2.3"} <= set(state("h4").networks[0].peers)
    instance_migrations.migration_update(mig["id"], {"status": "completed"})
    assert agent_service.moving_ports() == {}
    assert [p.id for p in state("h3").ports] == []


def test_host_routes_via_routers() -> None:
    gw = st.RouterGateway(network_id="ext", address="172.24.4.10", cidr="172.24.4.0/24",
                          gateway_ip="172.24.4.1")
    iface = st.RouterInterface(port_id="p1", network_id="n1", subnet_id="s1",
                               address="10.0.0.1", cidr="10.0.0.0/26",
                               mac="fa:16:3e:00:00:01")
    v6 = st.RouterInterface(port_id="p2", network_id="n1", subnet_id="s2",
                            address="fd00::1", cidr="fd00::/64", mac="fa:16:3e:00:00:01")
    state = st.HostState(host="h1", local_ip="192.0.2.1", routers=(
        st.Router(id="r1", gateway=gw, interfaces=(iface, v6)),
        st.Router(id="r2", interfaces=(iface,))))
    assert agent_service.wanted_host_routes(state) == {"10.0.0.0/26": "172.24.4.10"}
    assert 100 <= agent_service.route_protocol("nl") < 250
    assert agent_service.route_protocol("nl") == agent_service.route_protocol("nl")


def test_network_api_writes_notify_the_agents(monkeypatch: pytest.MonkeyPatch) -> None:
    from novalite.api import app
    from novalite.api.network import routes

    calls: list[int] = []
    monkeypatch.setattr(agent_service, "notify_changed", lambda: calls.append(1))
    router = app.make_app().router
    wrapped = {name for name, (ctrl, _a, _p) in router._targets.items()
               if isinstance(ctrl, routes._Notifying)}
    v2 = "/network/v2.0"
    assert f"POST {v2}/networks" in wrapped and f"DELETE {v2}/ports/{{id}}" in wrapped
    assert f"PUT {v2}/subnets/{{id}}" in wrapped
    assert not any(n.startswith("GET ") for n in wrapped)
    assert not any("/quotas" in n for n in wrapped)
    assert not any(n.split(" ", 1)[1].startswith("/compute") for n in wrapped)
    controller, action, _public = router._targets[f"DELETE {v2}/ports/{{id}}"]
    inner = getattr(controller, action).__wrapped__
    assert getattr(inner, "wsgi_code", None) == getattr(getattr(controller, action),
                                                         "wsgi_code", None)
    from novalite.network import hooks

    hooks.network_changed()
    assert calls == [1]
