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
from typing import Any

from oslo_versionedobjects import fixture

from novalite import objects
from novalite.objects import base

EXPECTED = {
    "Aggregate": "1.0-2dd88426f47cbd87008cfcaf2d1d2b1e",
    "AggregateList": "1.0-49e82126be8eb6f58d4e26ef595617b9",
    "BlockDeviceMapping": "1.1-8d2db72e494e11ab68bd3bbcebe82505",
    "BlockDeviceMappingList": "1.1-4a53826625cc280e15fae64a575e0879",
    "ComputeNode": "1.1-7f1e9fb25fe9382a44c4a5e29ba28fe0",
    "ComputeNodeList": "1.0-4d7772da63342b5bd3aacb0ddced9bcd",
    "FixedIP": "1.0-3449ebffb754a8ae11c9274e491eb0a7",
    "FixedIPList": "1.2-cf4ab8641f5b31b3b92946f7876c041d",
    "Flavor": "1.2-5b9e8cb5549dca1963c4955d00100e3b",
    "FlavorList": "1.1-fd37e8708824fcc656c293dbde653fc9",
    "ImageMeta": "1.0-1532eada64fac3cb653ce4100876a037",
    "InjectedFile": "1.0-c6b00ed71002c2a09b992a2244347780",
    "InjectedFileList": "1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e",
    "Instance": "1.5-8bf8064c7ffe73716941458bce6ebd2e",
    "InstanceAction": "1.0-4a59466f25d71f7e2bfd7d8ee37a989e",
    "InstanceActionEvent": "1.1-cb8590787a269347108a0c19c0add070",
    "InstanceActionEventList": "1.0-13d92fb953030cdbfee56481756e02be",
    "InstanceActionList": "1.0-4a53826625cc280e15fae64a575e0879",
    "InstanceBuild": "1.0-66c38d9208e57529021adc881927dbc9",
    "InstanceFault": "1.0-3d0c037502bf766ca4a6003856de2397",
    "InstanceFaultList": "1.0-7dde86a4199879fe706e228e1a64feac",
    "InstanceGroup": "1.0-87621ef372a387339bda29466aea6762",
    "InstanceGroupList": "1.0-0f443995bb2934f78be08b2652e09376",
    "InstanceInfoCache": "1.0-35754534f987f6d18e94750263e3b410",
    "InstanceList": "1.2-ac8ef449a3742144ce34d315f83c2a6b",
    "KeyPair": "1.0-27918cec1b4d5ad579b88790cd7480f1",
    "KeyPairList": "1.0-58b94f96e776bedaf1e192ddb2a24c4e",
    "Migration": "1.0-e152a46a9a5d0b01e2b69065ff8b582f",
    "MigrationList": "1.0-4f9ebd4e848a45235aa62142ca6d8fc6",
    "Network": "1.0-1bddf11d6a43b0b90a151aa36ad36ebb",
    "NetworkList": "1.0-bd543d2568147416af936c6a302416f3",
    "NetworkRequest": "1.1-81c84a2f939cb3d87ba673e539503d76",
    "NetworkRequestList": "1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e",
    "RequestSpec": "1.1-2250a94eb03f24449dac413caa219d8a",
    "SchedulerRetries": "1.0-842099775ad19981c5dd0b1b006f2e3e",
    "Service": "1.0-ca866dc4b27f40200ed4d69d638c7596",
    "ServiceList": "1.0-f6621975c20e5805eb2b67dec3679efc",
    "Tag": "1.0-942e7873d3b4f7ff617c779ba30c3807",
    "TagList": "1.0-4bb61e068adff04ca10999bb6b505bfa",
}


def _classes() -> dict:
    objects.register_all()
    return base.NovaliteObjectRegistry.obj_classes()


def _unannotated(method: Any) -> Any:
    """A remotable method's signature as it matters on the wire: names,
    defaults, keyword-only arguments; not its type annotations (a typing
    change is not a new version)."""
    def stub() -> None: ...
    stub.__signature__ = inspect.signature(method).replace(  # type: ignore[attr-defined]
        parameters=[p.replace(annotation=inspect.Parameter.empty)
                    for p in inspect.signature(method).parameters.values()],
        return_annotation=inspect.Signature.empty)
    return stub


class _WireChecker(fixture.ObjectVersionChecker):
    def _get_fingerprint(self, obj_name: str, extra_data_func: Any = None) -> str:
        original = fixture.get_method_spec
        fixture.get_method_spec = lambda m: original(_unannotated(m))  # type: ignore[assignment]
        try:
            return str(super()._get_fingerprint(obj_name, extra_data_func))
        finally:
            fixture.get_method_spec = original  # type: ignore[assignment]


def test_every_object_has_the_fingerprint_of_its_version() -> None:
    checker = _WireChecker(_classes())
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


def test_a_remotable_signature_change_changes_the_fingerprint_but_typing_does_not() -> None:
    from novalite.objects.keypair import KeyPair

    class Typed(KeyPair):
        @classmethod
        @base.remotable
        def get_by_name(cls, context: object, user_id: object, name: object) -> KeyPair:
            raise NotImplementedError

    class Widened(KeyPair):
        @classmethod
        @base.remotable
        def get_by_name(cls, context: Any, user_id: str, name: str,
                        deleted: bool = False) -> KeyPair:
            raise NotImplementedError

    def fingerprint(cls: type) -> str:
        return str(_WireChecker({"KeyPair": [cls]}).get_hashes()["KeyPair"])

    assert fingerprint(Typed) == fingerprint(KeyPair)
    assert fingerprint(Widened) != fingerprint(KeyPair)
