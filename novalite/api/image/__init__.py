"""The Image API (``/image``): the part of Glance's v2 novalite needs; the
route table is in ``routes``."""
