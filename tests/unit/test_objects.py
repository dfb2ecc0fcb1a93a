"""Objects that cross RPC: a field change without a version bump fails here."""

from oslo_versionedobjects import fixture

from novalite import context as nl_context
from novalite import objects
from novalite.objects import base
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance

objects.register_all()

# NOTE: when a test below fails, bump the object's VERSION, add a
# "# Version x.y: what changed" line, and update the hash here.
EXPECTED = {
    "ComputeNode": "1.1-ec6d4e6a815a167d53ba8f1c8dd1ec62",
    "ComputeNodeList": "1.0-70528059d15a67053532b3a4d8d1e179",
    "Flavor": "1.0-6f90541ef4c3e16e5ec480bc0a66921d",
    "FlavorList": "1.0-165cd38706b10c2bc87329674b40c563",
    "Instance": "1.0-147411b64d0f3f045a39317e05dd0c75",
    "InstanceFault": "1.0-f42bfb57c7a8bd3897e574e019c3c481",
    "InstanceFaultList": "1.0-4d29b12aa641f1b481f2759fe81e0bd7",
    "InstanceList": "1.0-7eab7013606e6d3b4ea88a885905e6e5",
    "Service": "1.0-240b440527675aa7c1cdd88ad6977550",
    "ServiceList": "1.0-debe5a1b3889e41f8ac391a30be1c1b3",
}


def test_object_fingerprints():
    checker = fixture.ObjectVersionChecker(base.NovaliteObjectRegistry.obj_classes())
    expected, actual = checker.test_hashes(EXPECTED)
    assert expected == actual


def test_instance_round_trips_through_the_serializer():
    ctxt = nl_context.get_admin_context()
    flavor = Flavor(id=1, flavorid="1", name="m1.tiny", memory_mb=512, vcpus=1, root_gb=1,
                    ephemeral_gb=0, swap=0, rxtx_factor=1.0, is_public=True, disabled=False,
                    description=None, extra_specs={})
    inst = Instance(context=ctxt, uuid="3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                    display_name="x", flavor=flavor, metadata={"a": "b"}, vm_state="building")
    ser = base.NovaliteObjectSerializer()
    prim = ser.serialize_entity(ctxt, inst)
    import json

    back = ser.deserialize_entity(ctxt, json.loads(json.dumps(prim)))
    assert isinstance(back, Instance)
    assert back.flavor.name == "m1.tiny" and back.metadata == {"a": "b"}
    assert back.obj_what_changed() == inst.obj_what_changed()
