"""Search spaces and search strategies of the local engine."""
