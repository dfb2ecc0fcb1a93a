"""The metadata service: what an instance learns about itself over HTTP at
169.254.169.254 (through its network's metadata proxy), the same content its
config drive holds. ``content`` builds that content (no database), ``lookup``
finds the instance a proxied request comes from, ``handler`` is the WSGI app
and ``service`` serves it."""
