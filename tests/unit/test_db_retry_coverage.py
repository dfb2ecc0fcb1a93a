"""Every database call of the query modules retries on disconnects and
deadlocks (issue 10, item 11): a query added without ``retry_on_db_error``
fails here, by name. How the retry behaves on real servers is in
tests/backends/test_db_retry.py and tests/integration/test_fault_postgres_restart.py."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

from novalite.db import (
    api,
    floating_ips,
    images,
    keypairs,
    network,
    quotas,
    routers,
    security_groups,
)
from novalite.db import retry as db_retry
from novalite.identity import store as identity_store

# NOTE: not queries (engine set-up), or calls that delegate to a retried one.
NOT_QUERIES = {"disable", "disabled", "enable", "get_url", "get_engine", "dispose",
               "instance_create", "instance_update", "project_lock",
               # the network modules: option parsing, names, addresses, and
               # calls made of retried queries
               "vni_ranges", "default_bridge", "default_pools", "random_mac",
               "check_address", "fixed_ip_allocate", "rule_key", "protocol_number",
               "add_interface_subnet", "add_interface_port", "remove_interface",
               "fip_create",
               # a part of the caller's transaction (the caller retries it whole)
               "record_action_events"}


def _queries(module: ModuleType) -> list[str]:
    return [name for name, fn in vars(module).items()
            if inspect.isfunction(fn) and not name.startswith("_")
            and getattr(fn, "__module__", None) == module.__name__
            and name not in NOT_QUERIES]


@pytest.mark.parametrize("module", [api, network, quotas, keypairs, images, identity_store,
                                    security_groups, routers, floating_ips],
                         ids=lambda m: m.__name__)
def test_every_query_retries(module: ModuleType) -> None:
    bare = [name for name in _queries(module)
            if not hasattr(getattr(module, name), "__wrapped__")]
    assert not bare, f"{module.__name__}: add @retry_on_db_error to {bare}"


def test_only_transient_errors_are_retried() -> None:
    assert db_retry.classify(ValueError("x")) is None
    assert not db_retry.should_retry(KeyError("x"), idempotent=True, name="t")
