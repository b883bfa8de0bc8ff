"""Public printing face (``pytensor.printing``): ``debugprint``/``dprint``, ``pprint``, ``pydotprint``."""

from .core.printing import debugprint, dprint, pprint, pydotprint

__all__ = ["debugprint", "dprint", "pprint", "pydotprint"]
