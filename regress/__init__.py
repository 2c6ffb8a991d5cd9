"""The main job (``python -m regress``, ``nox -s regress``): run the network on the RTL, compare every
layer, record the run in an append-only SQLite store and regenerate the static HTML dashboard."""

from regress.store import Store

__all__ = ["Store"]
