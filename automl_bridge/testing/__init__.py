"""Test helpers shipped with automl_bridge, for its own tests and for third-party plugins.

- :mod:`automl_bridge.testing.strategies`: the contract every search strategy should meet
  (synthetic problems, a driver that runs a strategy like the engine does, and checks).

Nothing here imports pytest; checks raise :class:`AssertionError` with a message.
"""
