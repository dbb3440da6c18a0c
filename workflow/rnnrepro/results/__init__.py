"""Sharing finished training runs: the results archive, imported runs, provenance, cache keys."""
