"""Virt drivers. Drivers never import the database or each other."""
