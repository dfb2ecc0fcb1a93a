"""The Identity API (``/identity``): a Keystone v3 subset served by the
built-in identity service (``novalite.identity``): version documents,
tokens, read-only projects, users, roles and domains, and a user's own
password change.

Every route is public to the router; the token routes and resources
authenticate the caller's ``X-Auth-Token`` themselves.

The route table is in ``routes``.
"""
