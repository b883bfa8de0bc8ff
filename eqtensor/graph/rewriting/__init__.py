"""Rewriting graphs, at PyTensor's path ``pytensor.graph.rewriting`` (see :mod:`.utils`)."""

from .utils import rewrite_graph

__all__ = ["rewrite_graph"]
