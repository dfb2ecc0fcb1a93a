"""Scheduler filters, weighers, HostState/RequestSpec and the NoValidHost explanation."""

from __future__ import annotations

import random
from datetime import datetime
from importlib.metadata import entry_points

import pytest

from novalite.conf import CONF
from novalite.exception import NovaliteException
from novalite.scheduler.filters import (
    BaseHostFilter,
    FilterHandler,
    FilterNotFound,
    FilterResult,
)
from novalite.scheduler.filters.affinity_filter import (
    DifferentHostFilter,
    SameHostFilter,
    ServerGroupAffinityFilter,
    ServerGroupAntiAffinityFilter,
)
from novalite.scheduler.filters.availability_zone_filter import AvailabilityZoneFilter
from novalite.scheduler.filters.compute_filter import ComputeFilter
from novalite.scheduler.filters.resource_filters import CoreFilter, DiskFilter, RamFilter
from novalite.scheduler.host_state import HostState, RequestSpec
from novalite.scheduler.weighers import (
    WeighedHost,
    WeigherNotFound,
    WeightHandler,
    normalize,
    pick_host,
)
from novalite.scheduler.weighers.affinity import (
    ServerGroupSoftAffinityWeigher,
    ServerGroupSoftAntiAffinityWeigher,
)
from novalite.scheduler.weighers.resources import CPUWeigher, DiskWeigher, RAMWeigher

ALL_FILTERS = [ComputeFilter, AvailabilityZoneFilter, RamFilter, DiskFilter, CoreFilter]
ALL_WEIGHERS = [RAMWeigher, CPUWeigher, DiskWeigher]


def make_host(name: str = "host1", **kw) -> HostState:
    values = dict(
        host=name, nodename=name, service_up=True, service_disabled=False,
        disabled_reason=None, availability_zone="nova",
        vcpus=8, vcpus_used=0, memory_mb=8192, memory_mb_used=0,
        local_gb=100, local_gb_used=0,
        cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0, disk_allocation_ratio=1.0,
        num_instances=0, updated_at=None,
    )
    values.update(kw)
    return HostState(**values)


def make_spec(**kw) -> RequestSpec:
    """A RequestSpec object from the flat values an older sender's dict has."""
    values = dict(instance_uuid="6f2d4a0e-7c1b-4a53-9a52-3c8f0d7e1b11", flavor_memory_mb=2048,
                  flavor_vcpus=1, flavor_root_gb=20, flavor_name="m1.small")
    values.update(kw)
    return RequestSpec.from_legacy_dict(None, values)


@pytest.fixture
def conf():
    """CONF with [scheduler] overrides undone after the test."""
    touched: list[str] = []

    def override(name: str, value) -> None:
        touched.append(name)
        CONF.set_override(name, value, group="scheduler")

    yield override
    for name in touched:
        CONF.clear_override(name, group="scheduler")


# --- HostState / RequestSpec -------------------------------------------------


def test_free_resources_apply_allocation_ratios():
    h = make_host(vcpus=4, vcpus_used=6, cpu_allocation_ratio=4.0,
                  memory_mb=1000, memory_mb_used=900, ram_allocation_ratio=1.5,
                  local_gb=100, local_gb_used=30, disk_allocation_ratio=1.0)
    assert h.free_vcpus == 10
    assert h.free_ram_mb == 600
    assert h.free_disk_gb == 70
    assert isinstance(h.free_ram_mb, int)


def test_free_resources_can_go_negative_when_overcommitted():
    h = make_host(memory_mb=1024, memory_mb_used=2048)
    assert h.free_ram_mb == -1024


def test_disk_gb_includes_ephemeral_and_swap_rounded_up():
    spec = make_spec(flavor_root_gb=10, flavor_ephemeral_gb=5, flavor_swap_mb=1025)
    assert spec.disk_gb == 17
    assert make_spec(flavor_root_gb=10, flavor_swap_mb=1024).disk_gb == 11
    assert make_spec(flavor_root_gb=10).disk_gb == 10


def test_consume_adds_one_instance_of_the_flavor():
    h = make_host(num_instances=2)
    h.consume(make_spec(flavor_memory_mb=512, flavor_vcpus=2, flavor_root_gb=10,
                        flavor_swap_mb=512))
    assert (h.memory_mb_used, h.vcpus_used, h.local_gb_used, h.num_instances) == (512, 2, 11, 3)
    assert h.free_ram_mb == 8192 - 512


# --- Individual filters ------------------------------------------------------


def test_compute_filter_passes_up_and_enabled():
    assert ComputeFilter().host_passes(make_host(), make_spec())


def test_compute_filter_fails_down_service():
    f, h = ComputeFilter(), make_host(service_up=False,
                                      updated_at=datetime(2024, 1, 2, 3, 4, 5))
    assert not f.host_passes(h, make_spec())
    assert f.reason(h, make_spec()) == "service is down"
    assert "last report 2024-01-02T03:04:05" in f.explain(h, make_spec())


def test_compute_filter_fails_disabled_service_with_reason():
    f = ComputeFilter()
    h = make_host(service_disabled=True, disabled_reason="maintenance")
    assert not f.host_passes(h, make_spec())
    assert f.reason(h, make_spec()) == "service is disabled (maintenance)"
    h2 = make_host(service_disabled=True)
    assert f.reason(h2, make_spec()) == "service is disabled"
    h3 = make_host(service_up=False, service_disabled=True, disabled_reason="broken")
    assert f.reason(h3, make_spec()) == "service is down and disabled (broken)"


@pytest.mark.parametrize("memory_mb_used,passes", [(6144, True), (6145, False)])
def test_ram_filter_boundary(memory_mb_used, passes):
    h = make_host(memory_mb=8192, memory_mb_used=memory_mb_used)
    assert RamFilter().host_passes(h, make_spec(flavor_memory_mb=2048)) is passes


def test_ram_filter_allocation_ratio_allows_overcommit():
    h = make_host(memory_mb=4096, memory_mb_used=4096)
    spec = make_spec(flavor_memory_mb=2048)
    assert not RamFilter().host_passes(h, spec)
    h.ram_allocation_ratio = 1.5
    assert RamFilter().host_passes(h, spec)


def test_ram_filter_explanations():
    f = RamFilter()
    h = make_host("host1", memory_mb=2048, memory_mb_used=1792)
    spec = make_spec(flavor_memory_mb=2048, flavor_name="m1.small")
    assert f.reason(h, spec) == "256 MiB free RAM"
    assert f.explain(h, spec).startswith("host1 has 256 MiB free RAM")
    assert f.explain(h, spec).endswith("m1.small needs 2048")


def test_disk_filter_counts_ephemeral_and_swap():
    h = make_host(local_gb=100, local_gb_used=79)
    assert DiskFilter().host_passes(h, make_spec(flavor_root_gb=20))
    assert DiskFilter().host_passes(h, make_spec(flavor_root_gb=20, flavor_swap_mb=1))
    assert not DiskFilter().host_passes(h, make_spec(flavor_root_gb=20, flavor_swap_mb=1025))
    assert not DiskFilter().host_passes(h, make_spec(flavor_root_gb=20, flavor_ephemeral_gb=2))
    assert DiskFilter().reason(h, make_spec()) == "21 GiB free disk"


def test_disk_filter_allocation_ratio():
    h = make_host(local_gb=100, local_gb_used=100, disk_allocation_ratio=2.0)
    assert DiskFilter().host_passes(h, make_spec(flavor_root_gb=100))
    assert not DiskFilter().host_passes(h, make_spec(flavor_root_gb=101))


def test_disk_filter_zero_disk_flavor_fits_even_overcommitted_host():
    h = make_host(local_gb=10, local_gb_used=20)
    assert DiskFilter().host_passes(h, make_spec(flavor_root_gb=0))


def test_core_filter_and_cpu_allocation_ratio():
    h = make_host(vcpus=4, vcpus_used=4)
    spec = make_spec(flavor_vcpus=2)
    assert not CoreFilter().host_passes(h, spec)
    assert CoreFilter().reason(h, spec) == "0 free vCPUs"
    h.cpu_allocation_ratio = 16.0
    assert CoreFilter().host_passes(h, spec)
    assert CoreFilter().reason(make_host(vcpus=1), spec) == "1 free vCPU"


def test_availability_zone_filter():
    f = AvailabilityZoneFilter()
    h = make_host(availability_zone="az1")
    assert f.host_passes(h, make_spec(availability_zone=None))
    assert f.host_passes(h, make_spec(availability_zone="az1"))
    assert not f.host_passes(h, make_spec(availability_zone="az2"))
    assert f.reason(h, make_spec(availability_zone="az2")) == "in availability zone 'az1'"
    assert "wants 'az2'" in f.explain(h, make_spec(availability_zone="az2"))


def test_base_filter_is_abstract():
    with pytest.raises(TypeError):
        BaseHostFilter()  # type: ignore[abstract]


# --- FilterHandler and the NoValidHost explanation ---------------------------


def test_filter_all_keeps_passing_hosts_in_order():
    hosts = [make_host("a"), make_host("b", service_up=False), make_host("c")]
    result = FilterHandler.from_classes(ALL_FILTERS).filter_all(hosts, make_spec())
    assert isinstance(result, FilterResult)
    assert [h.host for h in result.hosts] == ["a", "c"]
    assert result.hosts[0] is hosts[0]
    assert result.total == 3
    assert [s.name for s in result.steps] == [
        "ComputeFilter", "AvailabilityZoneFilter", "RamFilter", "DiskFilter", "CoreFilter"]
    assert result.steps[0].removed[0].host == "b"
    assert "ComputeFilter: (start: 3, end: 2)" in result.summary()


def test_explain_names_filters_counts_and_hosts():
    hosts = [
        make_host("host-a", memory_mb=8192, memory_mb_used=6144),
        make_host("host-b", memory_mb=8192, memory_mb_used=7168),
        make_host("host-c", service_up=False),
    ]
    spec = make_spec(flavor_name="m1.large", flavor_memory_mb=8192, flavor_vcpus=4,
                     flavor_root_gb=80)
    handler = FilterHandler.from_classes([RamFilter, ComputeFilter])
    result = handler.filter_all(hosts, spec)
    assert result.hosts == []
    assert result.explain(spec) == (
        "flavor 'm1.large' needs 8192 MiB RAM, 4 vCPUs, 80 GiB disk; "
        "RamFilter removed 2 of 3 hosts (host-a: 2048 MiB free RAM, "
        "host-b: 1024 MiB free RAM); "
        "ComputeFilter removed 1 of 3 hosts (host-c: service is down)")


def test_explain_in_default_filter_order_blames_first_failing_filter():
    hosts = [make_host("host-a", service_disabled=True, disabled_reason="maintenance",
                       memory_mb=1024),
             make_host("host-b", vcpus=1)]
    spec = make_spec(flavor_vcpus=2)
    result = FilterHandler.from_classes(ALL_FILTERS).filter_all(hosts, spec)
    text = result.explain(spec)
    assert "needs 2048 MiB RAM, 2 vCPUs, 20 GiB disk" in text
    assert "ComputeFilter removed 1 of 2 hosts (host-a: service is disabled (maintenance))" in text
    assert "CoreFilter removed 1 of 2 hosts (host-b: 1 free vCPU)" in text
    # host-a is also short of RAM, but it is only blamed on the first filter.
    assert "RamFilter" not in text
    # Later filters do not run once no host is left.
    assert [s.name for s in result.steps][-1] == "CoreFilter"


def test_explain_mentions_requested_zone():
    hosts = [make_host("host-a", availability_zone="nova")]
    spec = make_spec(availability_zone="az9", flavor_vcpus=1)
    text = FilterHandler.from_classes(ALL_FILTERS).filter_all(hosts, spec).explain(spec)
    assert "1 vCPU, 20 GiB disk in availability zone 'az9'" in text
    assert ("AvailabilityZoneFilter removed 1 of 1 host "
            "(host-a: in availability zone 'nova')") in text


def test_ignore_hosts_removed_first_as_already_tried():
    hosts = [make_host("host-a"), make_host("host-b", service_up=False), make_host("host-c")]
    spec = make_spec(ignore_hosts=["host-a", "host-c", "unknown-host"])
    result = FilterHandler.from_classes(ALL_FILTERS).filter_all(hosts, spec)
    assert result.hosts == []
    assert result.steps[0].name == "ignore_hosts"
    assert result.explain(spec).endswith(
        "; ignore_hosts removed 2 of 3 hosts (host-a: already tried, host-c: already tried); "
        "ComputeFilter removed 1 of 3 hosts (host-b: service is down)")


def test_ignore_hosts_leaves_others():
    hosts = [make_host("host-a"), make_host("host-b")]
    result = FilterHandler.from_classes(ALL_FILTERS).filter_all(
        hosts, make_spec(ignore_hosts=["host-a"]))
    assert [h.host for h in result.hosts] == ["host-b"]


def test_explain_with_no_hosts_at_all():
    spec = make_spec()
    result = FilterHandler.from_classes(ALL_FILTERS).filter_all([], spec)
    assert result.hosts == []
    assert result.explain(spec) == "there are no compute hosts"


def test_explain_without_flavor_name():
    spec = make_spec(flavor_name="", flavor_memory_mb=10**6)
    text = FilterHandler.from_classes([RamFilter]).filter_all([make_host("h")], spec).explain(spec)
    assert text.startswith("the flavor needs 1000000 MiB RAM")


def test_no_filters_passes_everything():
    hosts = [make_host("a"), make_host("b", service_up=False)]
    assert FilterHandler(filters=[]).filter_all(hosts, make_spec()).hosts == hosts


def test_unknown_filter_name_is_a_clear_error():
    with pytest.raises(FilterNotFound) as exc:
        FilterHandler(["ComputeFilter", "NoSuchFilter"])
    msg = str(exc.value)
    assert "NoSuchFilter" in msg
    assert "novalite.scheduler.filters" in msg
    assert isinstance(exc.value, NovaliteException)


def test_unknown_weigher_name_is_a_clear_error():
    with pytest.raises(WeigherNotFound) as exc:
        WeightHandler(["RAMWeigher", "BogusWeigher"])
    assert "BogusWeigher" in str(exc.value)
    assert "novalite.scheduler.weighers" in str(exc.value)


def test_default_handlers_load_configured_names_through_stevedore():
    """Needs the package's entry points (pip install -e .); see pyproject.toml."""
    found = {ep.name for ep in entry_points(group="novalite.scheduler.filters")}
    assert set(CONF.scheduler.enabled_filters) <= found, (
        "novalite is not installed: its scheduler entry points are missing")
    handler = FilterHandler()
    assert [type(f) for f in handler.filters] == [
        ComputeFilter, AvailabilityZoneFilter, RamFilter, DiskFilter, CoreFilter,
        ServerGroupAntiAffinityFilter, ServerGroupAffinityFilter, SameHostFilter,
        DifferentHostFilter]
    assert [type(f) for f in FilterHandler(["RamFilter", "ComputeFilter"]).filters] == [
        RamFilter, ComputeFilter]
    assert [type(w) for w in WeightHandler().weighers] == [
        RAMWeigher, CPUWeigher, DiskWeigher, ServerGroupSoftAffinityWeigher,
        ServerGroupSoftAntiAffinityWeigher]


# --- Weighers ----------------------------------------------------------------


def test_normalize():
    assert normalize([]) == []
    assert normalize([5, 5]) == [0.0, 0.0]
    assert normalize([0, 5, 10]) == [0.0, 0.5, 1.0]
    assert normalize([5], minval=0, maxval=10) == [0.5]


def test_more_free_ram_weighs_first():
    hosts = [make_host("small", memory_mb=4096), make_host("big", memory_mb=16384),
             make_host("mid", memory_mb=8192)]
    weighed = WeightHandler.from_classes([RAMWeigher]).get_weighed_hosts(hosts, make_spec())
    assert [wh.host_state.host for wh in weighed] == ["big", "mid", "small"]
    assert isinstance(weighed[0], WeighedHost)
    weight, host = weighed[0]
    assert (weight, host.host) == (1.0, "big")
    assert weighed[-1].weight == 0.0


def test_negative_multiplier_stacks(conf):
    conf("ram_weight_multiplier", -1.0)
    hosts = [make_host("empty"), make_host("busy", memory_mb_used=6000)]
    weighed = WeightHandler.from_classes([RAMWeigher]).get_weighed_hosts(hosts, make_spec())
    assert [wh.host_state.host for wh in weighed] == ["busy", "empty"]


def test_weighers_are_normalised_before_multipliers(conf):
    # "ram" has far more free MiB than "cpu" has vCPUs; without normalisation
    # RAM would always win. Normalised, the multipliers decide.
    hosts = [make_host("ram", memory_mb=65536, vcpus=2),
             make_host("cpu", memory_mb=4096, vcpus=64)]
    handler = WeightHandler.from_classes([RAMWeigher, CPUWeigher])
    conf("cpu_weight_multiplier", 2.0)
    assert handler.get_weighed_hosts(hosts, make_spec())[0].host_state.host == "cpu"
    conf("cpu_weight_multiplier", 0.5)
    assert handler.get_weighed_hosts(hosts, make_spec())[0].host_state.host == "ram"


def test_zero_multiplier_ignores_weigher_and_ties_keep_input_order(conf):
    conf("ram_weight_multiplier", 0.0)
    hosts = [make_host("first", memory_mb=1024), make_host("second", memory_mb=9999)]
    weighed = WeightHandler.from_classes([RAMWeigher]).get_weighed_hosts(hosts, make_spec())
    assert [wh.host_state.host for wh in weighed] == ["first", "second"]
    assert {wh.weight for wh in weighed} == {0.0}


def test_disk_weigher_prefers_free_disk():
    hosts = [make_host("full", local_gb_used=90), make_host("free", local_gb_used=0)]
    weighed = WeightHandler.from_classes([DiskWeigher]).get_weighed_hosts(hosts, make_spec())
    assert weighed[0].host_state.host == "free"


def test_weighing_no_hosts():
    assert WeightHandler.from_classes(ALL_WEIGHERS).get_weighed_hosts([], make_spec()) == []


def test_pick_host_subset(conf):
    weighed = [WeighedHost(3.0, make_host("a")), WeighedHost(2.0, make_host("b")),
               WeighedHost(1.0, make_host("c"))]
    assert pick_host(weighed).host == "a"  # default host_subset_size is 1
    conf("host_subset_size", 2)
    picked = {pick_host(weighed, rng=random.Random(seed)).host for seed in range(50)}
    assert picked == {"a", "b"}
    assert pick_host(weighed, subset_size=10).host in {"a", "b", "c"}
    with pytest.raises(ValueError):
        pick_host([])


# --- Filter + weigh + consume, as the scheduler manager does it --------------


def _schedule(filters: FilterHandler, weighers: WeightHandler, hosts, spec) -> HostState:
    result = filters.filter_all(hosts, spec)
    if not result.hosts:
        raise AssertionError(result.explain(spec))
    chosen = weighers.get_weighed_hosts(result.hosts, spec)[0].host_state
    chosen.consume(spec)
    return chosen


def test_consume_sends_second_identical_request_elsewhere_when_first_host_fills():
    hosts = [make_host("roomy", memory_mb=3072, vcpus=8),
             make_host("tight", memory_mb=2048, vcpus=8)]
    spec = make_spec(flavor_memory_mb=2048, flavor_vcpus=1, flavor_root_gb=10)
    filters = FilterHandler.from_classes(ALL_FILTERS)
    weighers = WeightHandler.from_classes(ALL_WEIGHERS)

    assert _schedule(filters, weighers, hosts, spec).host == "roomy"
    # roomy now has 1024 MiB free: RamFilter must remove it.
    assert _schedule(filters, weighers, hosts, spec).host == "tight"
    result = filters.filter_all(hosts, spec)
    assert result.hosts == []
    assert ("RamFilter removed 2 of 2 hosts (roomy: 1024 MiB free RAM, "
            "tight: 0 MiB free RAM)") in result.explain(spec)
    assert [h.num_instances for h in hosts] == [1, 1]


def test_consume_spreads_identical_requests_by_weight():
    hosts = [make_host("a", memory_mb=8192), make_host("b", memory_mb=8192)]
    spec = make_spec(flavor_memory_mb=1024)
    filters = FilterHandler.from_classes(ALL_FILTERS)
    weighers = WeightHandler.from_classes(ALL_WEIGHERS)
    placed = [_schedule(filters, weighers, hosts, spec).host for _ in range(4)]
    assert placed == ["a", "b", "a", "b"]
