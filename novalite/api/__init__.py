"""The REST APIs: Nova's Compute API v2.1 under ``/compute`` and the part of
Glance's Image API v2 novalite needs under ``/image``.

Layout: ``wsgi`` (request life cycle, ``make_app``), ``router``, ``auth``,
``microversions`` (the supported list), ``validation`` and ``schemas/``
(request bodies), ``views/`` (response shapes), ``compute/`` and ``image/``
(controllers), ``service`` (``APIService`` on waitress).
"""
