"""Backends: the local engine and the cloud adapters, behind one protocol (see base.py)."""
