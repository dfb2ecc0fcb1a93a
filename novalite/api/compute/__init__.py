"""The Compute API (``/compute``): Nova's v2.1 controllers, one module each;
the route table is in ``routes``."""
