"""The graph a function computes: its inputs (explicit, then shared), outputs and updates.

Optimizers take a :class:`FunctionGraph` and return an equivalent one; backends compile one.

>>> import numpy as np, eqtensor as et
>>> from eqtensor import tensor as pt
>>> x, s = pt.dvector("x"), et.shared(np.zeros(2), name="s")
>>> fg = et.function([x], x.sum(), updates={s: s + x}, mode="FAST_COMPILE").maker.fgraph
>>> fg.inputs, fg.shared_inputs, fg.n_outputs, fg.update_targets, fg.size()
([x, s], [s], 1, [s], 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .graph import SharedVariable, Variable
from .traversal import toposort


@dataclass
class FunctionGraph:
    inputs: list[Variable]  # explicit inputs followed by the shared variables used
    outputs: list[Variable]  # user outputs followed by update expressions
    n_explicit: int  # how many of ``inputs`` the caller passes
    n_outputs: int  # how many of ``outputs`` are returned to the caller
    update_targets: list[SharedVariable] = field(default_factory=list)  # one per update expression

    @property
    def shared_inputs(self) -> list[SharedVariable]:
        return self.inputs[self.n_explicit:]

    def toposort(self):
        """The apply nodes computing the outputs, each after its inputs."""
        return toposort(self.outputs)

    def replace_outputs(self, outputs: list[Variable]) -> "FunctionGraph":
        """The same interface with new (equivalent) output expressions."""
        if len(outputs) != len(self.outputs):
            raise ValueError("an optimizer must return one expression per output")
        return FunctionGraph(list(self.inputs), list(outputs), self.n_explicit, self.n_outputs,
                             list(self.update_targets))

    def size(self) -> int:
        """The number of apply nodes."""
        return len(self.toposort())
