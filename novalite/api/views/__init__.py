"""JSON shapes of API resources, kept apart from controllers so they can be
tested as pure functions of an object and a ``Links``."""
