"""The local search engine: evaluation, worker processes, studies and the search loop."""
