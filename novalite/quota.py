"""Quotas: each project's limits and what it uses, checked before servers
are recorded.

Limits are the defaults unless the project has its own (``os-quota-sets``);
the defaults are the ``default`` quota class's limits where it sets one
(``os-quota-class-sets``, as Nova's database driver), else the ``[quota]``
options. Usage is counted from what the project has (servers
that are not deleted, their flavors' vCPUs and RAM; a user's key pairs), as
Nova's counting quotas do, so no usage table can drift out of step.

Concurrent creates: ``enforce_server_create`` checks before the servers are
recorded; two requests may both pass it for the last free slot. After the
caller records its servers it calls ``recheck_server_create`` (Nova's
``recheck_quota``): usage is counted again, now including every racing
request's servers, and the caller deletes its servers and fails if the
project is over. Whichever request rechecks last sees all of them, so the
limit is never exceeded once the requests are done (at worst both racing
requests are refused, as in Nova). ``server_create_lock`` does better:
checking and recording under the project's lock, racing creates are
served in turn and exactly as many as fit succeed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from novalite import exception
from novalite.conf import CONF
from novalite.db import instance_groups as db_groups
from novalite.db import keypairs as db_keypairs
from novalite.db import quotas as db
from novalite.db import server_records as db_records

UNLIMITED = -1

# NOTE: Nova's quota resources in its API order; the config option of each
# (Nova names injected_file_path_bytes' option injected_file_path_length).
RESOURCES: dict[str, str | None] = {
    "instances": "instances",
    "cores": "cores",
    "ram": "ram",
    "metadata_items": "metadata_items",
    "injected_files": "injected_files",
    "injected_file_content_bytes": "injected_file_content_bytes",
    "injected_file_path_bytes": "injected_file_path_length",
    "key_pairs": "key_pairs",
    "server_groups": "server_groups",
    "server_group_members": "server_group_members",
    # NOTE: nova-network's quotas, gone from Nova but still in its 2.1
    # answers (always -1); novalite has none of these resources either.
    "fixed_ips": None,
    "floating_ips": None,
    "security_groups": None,
    "security_group_rules": None,
}

# Resources counted from what a project has; the others limit one request.
COUNTED = ("instances", "cores", "ram", "key_pairs", "server_groups",
           "server_group_members")


DEFAULT_CLASS = "default"


def _configured() -> dict[str, int]:
    return {name: (CONF.quota[opt] if opt else UNLIMITED) for name, opt in RESOURCES.items()}


def get_defaults() -> dict[str, int]:
    """The default limit of every resource: the ``default`` quota class's,
    else the configured one (Nova's DbQuotaDriver.get_defaults)."""
    limits = _configured()
    limits.update({k: v for k, v in db.quota_class_get_all_by_name(DEFAULT_CLASS).items()
                   if k in limits})
    return limits


def get_class_quotas(class_name: str) -> dict[str, int]:
    """A quota class's limits: what it sets, else the defaults (Nova's
    get_class_quotas with defaults); only ``default``'s are ever enforced."""
    limits = get_defaults()
    if class_name != DEFAULT_CLASS:
        limits.update({k: v for k, v in db.quota_class_get_all_by_name(class_name).items()
                       if k in limits})
    return limits


def update_class_quotas(class_name: str, limits: dict[str, int]) -> None:
    unknown = sorted(set(limits) - set(RESOURCES))
    if unknown:
        raise exception.QuotaResourceUnknown(unknown=", ".join(unknown))
    db.quota_class_set(class_name, limits)


def get_project_quotas(project_id: str) -> dict[str, int]:
    """The project's limit of every resource: its own where it has one."""
    return _with_defaults(db.quota_get_all_by_project(project_id))


def get_usages(project_id: str, user_id: str | None = None) -> dict[str, int]:
    """What the project uses of each resource (0 for what it cannot have).

    NOTE: key pairs belong to users, so as in Nova a project's view shows
    none in use; with ``user_id`` it shows that user's.
    """
    usage = dict.fromkeys(RESOURCES, 0)
    usage.update(db.instance_usage_by_project(project_id))
    usage["server_groups"] = db_groups.instance_group_count_by_project(project_id)
    if user_id is not None:
        usage["key_pairs"] = db_keypairs.key_pair_count_by_user(user_id)
    return usage


def update_project_quotas(project_id: str, limits: dict[str, int]) -> None:
    unknown = sorted(set(limits) - set(RESOURCES))
    if unknown:
        raise exception.QuotaResourceUnknown(unknown=", ".join(unknown))
    db.quota_set(project_id, limits)


def delete_project_quotas(project_id: str) -> None:
    """Back to the defaults."""
    db.quota_destroy_all_by_project(project_id)


def _headroom(limit: int, used: int) -> float:
    return float("inf") if limit == UNLIMITED else limit - used


def enforce_server_create(context: Any, project_id: str, count: int, vcpus: int,
                          memory_mb: int) -> None:
    """Refuse ``count`` more servers needing ``vcpus`` vCPUs and ``memory_mb``
    MB of RAM in total (all ``count`` servers together) when they would take
    the project over its instances, cores or RAM quota.

    Raises ``TooManyInstances`` (403) with Nova's message, e.g. "Quota
    exceeded for instances: Requested 1, but already used 10 of 10 instances".
    """
    _check(project_id, {"instances": count, "cores": vcpus, "ram": memory_mb},
           requested={"instances": count, "cores": vcpus, "ram": memory_mb})


def allowed_server_count(context: Any, project_id: str, min_count: int, max_count: int,
                         vcpus: int, memory_mb: int) -> int:
    """How many servers of ``vcpus`` vCPUs and ``memory_mb`` MB each (between
    ``min_count`` and ``max_count``) fit the project's quota, as Nova's
    multi-create: as many as fit, or TooManyInstances (403) naming the range
    ("Requested 3-5") when not even ``min_count`` fit."""
    limits = get_project_quotas(project_id)
    usage = db.instance_usage_by_project(project_id)
    allowed = float(max_count)
    for resource, each in (("instances", 1), ("cores", vcpus), ("ram", memory_mb)):
        if each > 0 and limits[resource] != UNLIMITED:
            allowed = min(allowed, (limits[resource] - usage[resource]) // each)
    if allowed >= min_count:
        return int(allowed)
    # NOTE: as Nova words it: the resources over for max_count, the instances
    # requested as the range, cores and RAM for max_count.
    per = {"instances": 1, "cores": vcpus, "ram": memory_mb}
    overs = sorted(r for r in per if limits[r] != UNLIMITED
                   and usage[r] + max_count * per[r] > limits[r])
    reqs = {"instances": str(min_count) if min_count == max_count
            else f"{min_count}-{max_count}",
            "cores": str(max_count * vcpus), "ram": str(max_count * memory_mb)}
    raise exception.TooManyInstances(
        overs=", ".join(overs), req=", ".join(reqs[r] for r in overs),
        used=", ".join(str(usage[r]) for r in overs),
        allowed=", ".join(str(limits[r]) for r in overs))


@contextlib.contextmanager
def server_create_lock(context: Any, project_id: str, count: int, vcpus: int,
                       memory_mb: int) -> Iterator[None]:
    """Check the quota as ``enforce_server_create`` and hold the project's
    quota lock while the caller records its servers inside the block, so
    racing creates are checked one after another: each sees the servers of
    those before it, and exactly as many as fit are let through.

        with quota.server_create_lock(ctx, project_id, n, n * vcpus, n * ram):
            ...create the instance records...
    """
    with db.project_lock(project_id):
        enforce_server_create(context, project_id, count, vcpus, memory_mb)
        yield


def recheck_server_create(context: Any, project_id: str, count: int, vcpus: int,
                          memory_mb: int) -> None:
    """After the caller recorded its servers: refuse (the caller then deletes
    them) when the project is now over its quota because of racing creates.
    The arguments are those given to ``enforce_server_create``; the message
    is the same."""
    if not CONF.quota.recheck_quota:
        return
    _check(project_id, {"instances": 0, "cores": 0, "ram": 0},
           requested={"instances": count, "cores": vcpus, "ram": memory_mb})


def server_create_check(context: Any, project_id: str, count: int, vcpus: int,
                        memory_mb: int) -> Callable[[dict[str, int], dict[str, int]], None] | None:
    """``recheck_server_create`` as a check of limits and usage the caller
    reads (the database reads them in the transaction that records the
    servers, ``db.server_records``); None when ``[quota] recheck_quota`` is off."""
    if not CONF.quota.recheck_quota:
        return None
    deltas = {"instances": 0, "cores": 0, "ram": 0}
    requested = {"instances": count, "cores": vcpus, "ram": memory_mb}
    # NOTE: the quota classes' defaults come with the project's limits, in
    # the caller's transaction; only the configured ones are added here.
    defaults = _configured()

    def check(own_limits: dict[str, int], usage: dict[str, int]) -> None:
        _raise_if_over(_with_defaults(own_limits, defaults), usage, deltas, requested)

    return check


def checked_when_recorded() -> bool:
    """True when ``server_create_check``, run in the transaction that records
    the servers, is exact (a project's creates are serialised there, see
    ``db.server_records``): a check before recording then adds only a read."""
    return bool(CONF.quota.recheck_quota) and db_records.check_is_exact()


def _with_defaults(own: dict[str, int], defaults: dict[str, int] | None = None
                   ) -> dict[str, int]:
    limits = dict(defaults) if defaults is not None else get_defaults()
    limits.update({k: v for k, v in own.items() if k in limits})
    return limits


def _check(project_id: str, deltas: dict[str, int], requested: dict[str, int]) -> None:
    # NOTE: limits and usage in one transaction (one round trip, not two).
    limits, usage = db.quota_limits_and_usage(project_id)
    _raise_if_over(_with_defaults(limits, _configured()), usage, deltas, requested)


def _raise_if_over(limits: dict[str, int], usage: dict[str, int], deltas: dict[str, int],
                   requested: dict[str, int]) -> None:
    overs = sorted(r for r, delta in deltas.items()
                   if limits[r] != UNLIMITED and usage[r] + delta > limits[r])
    if not overs:
        return
    # NOTE: as Nova's get_over_quota_detail: "used" is what the project
    # holds without this request's servers, so the recheck (which counts
    # them) reports the same figures as the first check.
    already = {r: usage[r] - (requested[r] - deltas[r]) for r in overs}
    raise exception.TooManyInstances(
        overs=", ".join(overs),
        req=", ".join(str(requested[r]) for r in overs),
        used=", ".join(str(max(already[r], 0)) for r in overs),
        allowed=", ".join(str(limits[r]) for r in overs))


def enforce_key_pairs(project_id: str | None, user_id: str, delta: int = 1) -> None:
    """Refuse ``delta`` more key pairs when the user would have more than
    the ``key_pairs`` limit of the project it acts in (as Nova: the limit is
    the project's, the count the user's)."""
    limit = (get_project_quotas(project_id) if project_id else get_defaults())["key_pairs"]
    if limit == UNLIMITED:
        return
    if db_keypairs.key_pair_count_by_user(user_id) + delta > limit:
        raise exception.KeypairLimitExceeded()


def enforce_metadata_items(project_id: str, count: int) -> None:
    """Refuse more than the project's ``metadata_items`` metadata items on one
    server (403 "Maximum number of metadata items exceeds 128", as Nova)."""
    if count <= 0:
        # NOTE: no limit refuses none (limits are -1 or >= 0): no read.
        return
    limit = get_project_quotas(project_id)["metadata_items"]
    if limit != UNLIMITED and count > limit:
        raise exception.MetadataLimitExceeded(allowed=limit)
