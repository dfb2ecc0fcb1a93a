"""Objects that cross RPC: round trips through the serializer (their
fingerprints are checked in test_object_fingerprints.py)."""

from novalite import context as nl_context
from novalite import objects
from novalite.objects import base
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance

objects.register_all()

# NOTE: the fingerprints of every object are in test_object_fingerprints.py.


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
