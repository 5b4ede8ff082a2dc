"""Fake cloud SDK clients for offline tests of the cloud backends."""
