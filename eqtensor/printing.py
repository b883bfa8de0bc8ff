"""Public printing face (``pytensor.printing``): ``debugprint``/``dprint`` and ``pprint``."""

from .core.printing import debugprint, dprint, pprint

__all__ = ["debugprint", "dprint", "pprint"]
