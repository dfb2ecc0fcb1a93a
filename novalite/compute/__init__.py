"""The compute service: the seed's heart."""
