"""Messaging transport drivers of novalite's own (see ``inproc``)."""
