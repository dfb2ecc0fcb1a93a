"""The REST APIs: Nova's Compute API v2.1 under ``/compute``, the part of
Glance's Image API v2 novalite needs under ``/image``, Keystone's v3 subset
under ``/identity`` and Neutron's read-only network views under ``/network``.

Layout: ``app`` (``make_app``: every API's ``routes`` on one router), ``wsgi``
(request life cycle), ``router``, ``auth``, ``microversions`` (the supported
list), ``validation`` and ``schemas/`` (request bodies), ``views/`` (response
shapes), ``compute/``, ``image/``, ``identity/``, ``network/`` (controllers,
one module each, and a ``routes`` table), ``service`` (``APIService`` on
waitress). Controllers import only leaf modules, never the app or a route table.
"""
