"""Every registered novalite object's fingerprint (its fields and remotable
methods, hashed by oslo.versionedobjects): a change to either without a
version bump fails here, as in Nova's test_objects.

When this fails: bump the object's VERSION, add a ``# Version x.y: what
changed`` line above it (and obj_make_compatible for a new field), then put
the new fingerprint below.
"""

from __future__ import annotations

import inspect
import re

from oslo_versionedobjects import fixture

from novalite import objects
from novalite.objects import base

EXPECTED = {
    "ComputeNode": "1.1-ec6d4e6a815a167d53ba8f1c8dd1ec62",
    "ComputeNodeList": "1.0-70528059d15a67053532b3a4d8d1e179",
    "FixedIP": "1.0-3449ebffb754a8ae11c9274e491eb0a7",
    "FixedIPList": "1.0-ed20de5271f690c5d84c337f1b12bf9a",
    "Flavor": "1.1-df7b085511dc87a7605a2d64ff2d8a46",
    "FlavorList": "1.1-5a981814c07b1c694de6eb6577199e30",
    "ImageMeta": "1.0-1532eada64fac3cb653ce4100876a037",
    "InjectedFile": "1.0-c6b00ed71002c2a09b992a2244347780",
    "InjectedFileList": "1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e",
    "Instance": "1.2-4ac78fada6e3391422c2e3e3ed682cbd",
    "InstanceAction": "1.0-b85e16ba3ac1b936b3ec8513f40e1f41",
    "InstanceActionEvent": "1.0-e4c966bc25cc0f41f9e54ba9eec96af1",
    "InstanceActionEventList": "1.0-240ed7ea9da7713437db606d08995a4d",
    "InstanceActionList": "1.0-eb147ccef7f3bba10349aee2f374a07b",
    "InstanceFault": "1.0-f42bfb57c7a8bd3897e574e019c3c481",
    "InstanceFaultList": "1.0-4d29b12aa641f1b481f2759fe81e0bd7",
    "InstanceList": "1.2-a4058e00a01865ee84461963a2d3b28f",
    "KeyPair": "1.0-2d5cdd87fee37f6cee03869fb3d77eeb",
    "KeyPairList": "1.0-b75a4dd72ebad09811b396d7d8bb4c00",
    "Network": "1.0-140452e0543fcf7620e4fad902e2edab",
    "NetworkList": "1.0-58dafc058c434fae0a8c89e22e148583",
    "NetworkRequest": "1.0-9880e279a0a7abc1d15d6a53e13a5c96",
    "NetworkRequestList": "1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e",
    "RequestSpec": "1.0-2ea2aa3f14ef639e67f42a978826f9bf",
    "SchedulerRetries": "1.0-842099775ad19981c5dd0b1b006f2e3e",
    "Service": "1.0-240b440527675aa7c1cdd88ad6977550",
    "ServiceList": "1.0-debe5a1b3889e41f8ac391a30be1c1b3",
}


def _classes() -> dict:
    objects.register_all()
    return base.NovaliteObjectRegistry.obj_classes()


def test_every_object_has_the_fingerprint_of_its_version() -> None:
    checker = fixture.ObjectVersionChecker(_classes())
    expected, actual = checker.test_hashes(EXPECTED)
    assert expected == actual, (
        "Fields or remotable methods changed without a version bump (or a new object "
        f"is missing here): expected {expected}, got {actual}")


def test_every_object_writes_down_its_version_history() -> None:
    for name, versions in _classes().items():
        cls = versions[0]
        history = re.findall(r"# Version (\d+\.\d+):", inspect.getsource(cls))
        assert history, f"{name} has no '# Version x.y: ...' history"
        assert history[-1] == cls.VERSION, (
            f"{name} is at {cls.VERSION} but its history ends at {history[-1]}")


def test_a_field_added_without_a_bump_changes_the_fingerprint() -> None:
    """The check can fail: the same class with one more field hashes apart."""
    from oslo_versionedobjects import fields as ovo_fields

    from novalite.objects.keypair import KeyPair

    class Grown(KeyPair):
        fields = dict(KeyPair.fields, comment=ovo_fields.StringField(nullable=True))

    before = fixture.ObjectVersionChecker({"KeyPair": [KeyPair]}).get_hashes()["KeyPair"]
    after = fixture.ObjectVersionChecker({"KeyPair": [Grown]}).get_hashes()["KeyPair"]
    assert before.split("-")[0] == after.split("-")[0] == KeyPair.VERSION
    assert before != after
