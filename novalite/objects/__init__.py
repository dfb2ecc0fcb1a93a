"""Versioned objects (oslo.versionedobjects) that cross RPC.

``register_all()`` imports every object module so the registry knows them;
tests/unit/test_object_fingerprints.py holds each one's fingerprint.
"""


def register_all() -> None:
    __import__("novalite.objects.aggregate")
    __import__("novalite.objects.block_device")
    __import__("novalite.objects.flavor")
    __import__("novalite.objects.instance")
    __import__("novalite.objects.instance_action")
    __import__("novalite.objects.instance_build")
    __import__("novalite.objects.instance_fault")
    __import__("novalite.objects.instance_group")
    __import__("novalite.objects.instance_info_cache")
    __import__("novalite.objects.keypair")
    __import__("novalite.objects.migration")
    __import__("novalite.objects.network")
    __import__("novalite.objects.request_spec")
    __import__("novalite.objects.service")
    __import__("novalite.objects.tag")
    __import__("novalite.objects.compute_node")
