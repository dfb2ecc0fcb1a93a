"""novalite.policy: default rules from every policies module, roles that
imply one another, the operator's policy file, and oslo.policy's tools."""

import os
import subprocess
import sys

import pytest

from novalite import context as nl_context
from novalite import exception, policies, policy
from novalite.conf import CONF


@pytest.fixture(autouse=True)
def _fresh_enforcer():
    policy.reset()
    yield
    CONF.clear_override("policy_file", group="oslo_policy")
    policy.reset()


def _ctx(project, *roles):
    return nl_context.RequestContext(user_id="u", project_id=project, roles=list(roles))


def test_every_module_in_the_package_contributes_its_rules_once():
    names = [r.name for r in policies.list_rules()]
    assert len(names) == len(set(names))
    assert {"context_is_admin", "project_member_api", "os_compute_api:servers:create",
            "os_compute_api:os-server-metadata:update"} <= set(names)
    # base rules first: the others refer to them
    assert names[0] == "context_is_admin"


@pytest.mark.parametrize("roles, action, allowed", [
    (("reader",), "show", True),
    (("reader",), "create", False),
    (("member",), "create", True),
    (("member",), "index:get_all_tenants", False),
    (("admin",), "show", True),   # admin implies member and reader
    (("admin",), "index:get_all_tenants", True),
    ((), "show", False),
])
def test_roles_in_the_callers_project(roles, action, allowed):
    ctx = _ctx("p1", *roles)
    target = {"project_id": "p1", "user_id": "u"}
    assert policy.authorize(ctx, f"os_compute_api:servers:{action}", target,
                            do_raise=False) is allowed


def test_another_project_needs_admin():
    target = {"project_id": "p2", "user_id": "x"}
    assert not policy.authorize(_ctx("p1", "member"), "os_compute_api:servers:show", target,
                                do_raise=False)
    assert policy.authorize(_ctx("p1", "admin"), "os_compute_api:servers:show", target)


def test_refusal_is_novas_403():
    with pytest.raises(exception.PolicyNotAuthorized) as e:
        policy.authorize(_ctx("p1", "reader"), "os_compute_api:servers:delete")
    assert e.value.code == 403
    assert e.value.format_message() == (
        "Policy doesn't allow os_compute_api:servers:delete to be performed.")


def test_policy_file_overrides_defaults(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text('"os_compute_api:servers:show": "role:admin"\n')
    CONF.set_override("policy_file", str(path), group="oslo_policy")
    policy.reset()
    reader = _ctx("p1", "reader")
    assert not policy.authorize(reader, "os_compute_api:servers:show", do_raise=False)
    # what the file does not name keeps its default
    assert policy.authorize(reader, "os_compute_api:servers:index")


def test_sample_generator_lists_the_rules():
    """``oslopolicy-sample-generator --namespace novalite`` (entry points)."""
    tool = os.path.join(os.path.dirname(sys.executable), "oslopolicy-sample-generator")
    out = subprocess.run([tool, "--namespace", "novalite"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert '#"os_compute_api:servers:create": "rule:project_member_or_admin"' in out.stdout
