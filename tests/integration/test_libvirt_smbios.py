"""A real tiny guest under libvirt sees the SMBIOS system table Nova's
guests see (product 'OpenStack Nova', serial and uuid = the server id), read
from the guest's own /sys/class/dmi/id through its guest agent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from novalite.virt.libvirt import agent
from tests.integration.realstack import RealStackError, libvirt_connection
from tests.integration.test_networking import ACTIVE_TIMEOUT, AGENT_TIMEOUT, NetStack
from tests.procs import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ns() -> Iterator[NetStack]:
    try:
        libvirt_connection().close()
    except RealStackError as e:
        pytest.fail(str(e))
    stack = NetStack()
    problems: list[str] = []
    try:
        stack.start()
        yield stack
    finally:
        problems = stack.stop()
    assert not problems, "the stack was not left clean:\n" + "\n".join(problems)


def _dmi(ns: NetStack, server_id: str, name: str) -> str:
    dom = ns.domain(server_id)

    def read() -> bytes | None:
        try:
            return agent.read_file(dom, f"/sys/class/dmi/id/{name}")
        except agent.AgentError:
            return None
    return bytes(wait_until(read, AGENT_TIMEOUT, f"DMI {name} through the agent",
                            interval=1)).decode().strip()


def test_guest_reads_openstack_nova_from_its_smbios(ns: NetStack) -> None:
    with ns.rs.servers() as ids:
        server = ns.boot("smbios-1")
        sid = server["id"]
        ids.append(sid)
        ns.rs.stack.wait_status(sid, "ACTIVE", ACTIVE_TIMEOUT)
        xml = ns.rs.domain_xml(sid)
        assert xml is not None
        entries = {e.get("name"): e.text for e in xml.findall("sysinfo/system/entry")}
        assert entries["manufacturer"] == "OpenStack Foundation"
        assert entries["product"] == "OpenStack Nova"
        assert entries["serial"] == entries["uuid"] == sid
        assert xml.find("os/smbios") is not None
        assert xml.find("os/smbios").get("mode") == "sysinfo"  # type: ignore[union-attr]
        assert _dmi(ns, sid, "product_name") == "OpenStack Nova"
        assert _dmi(ns, sid, "sys_vendor") == "OpenStack Foundation"
        assert _dmi(ns, sid, "product_serial") == sid
        assert _dmi(ns, sid, "product_uuid").lower() == sid
