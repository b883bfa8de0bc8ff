"""The graph a function computes: its inputs (explicit, then shared), outputs and updates.

Optimizers take a :class:`FunctionGraph` and return an equivalent one; backends compile one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .graph import Constant, SharedVariable, Variable, toposort


@dataclass
class FunctionGraph:
    inputs: list[Variable]  # explicit inputs followed by the shared variables used
    outputs: list[Variable]  # user outputs followed by update expressions
    n_explicit: int  # how many of ``inputs`` the caller passes
    n_outputs: int  # how many of ``outputs`` are returned to the caller
    update_targets: list[SharedVariable] = field(default_factory=list)

    @property
    def shared_inputs(self) -> list[SharedVariable]:
        return self.inputs[self.n_explicit:]

    def toposort(self):
        return toposort(self.outputs)

    def constants(self) -> list[Constant]:
        seen, out = set(), []
        for node in self.toposort():
            for i in node.inputs:
                if isinstance(i, Constant) and id(i) not in seen:
                    seen.add(id(i))
                    out.append(i)
        return out

    def replace_outputs(self, outputs: list[Variable]) -> "FunctionGraph":
        """The same interface with new (equivalent) output expressions."""
        if len(outputs) != len(self.outputs):
            raise ValueError("an optimizer must return one expression per output")
        return FunctionGraph(list(self.inputs), list(outputs), self.n_explicit, self.n_outputs,
                             list(self.update_targets))

    def size(self) -> int:
        return len(self.toposort())
