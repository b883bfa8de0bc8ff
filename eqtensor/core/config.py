"""Global configuration (``eqtensor.config``), PyTensor style.

>>> from eqtensor import config
>>> config.floatX
'float64'
>>> with config.change_flags(floatX="float32"):
...     config.floatX
'float32'
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, fields

_FLOATX = ("float64", "float32")

#: the named modes (``eqtensor.compile.mode`` defines them; a test keeps both lists equal)
MODE_NAMES = ("FAST_COMPILE", "NUMPY", "C", "FAST_RUN")


def _default_cache_dir() -> str:
    env = os.environ.get("EQTENSOR_CACHE_DIR")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "eqtensor")


@dataclass
class Config:
    """Process-wide settings. Change them with attribute assignment or :meth:`change_flags`."""

    floatX: str = "float64"
    mode: str = "FAST_RUN"
    on_unused_input: str = "raise"
    cache_dir: str = field(default_factory=_default_cache_dir)
    unknown_dim_size: int = 1000
    num_threads: int = 0  # C backend threads for large loops; 0: $EQTENSOR_NUM_THREADS, else all cores
    #: remember optimization results by graph structure, in memory and under ``cache_dir``
    #: (:mod:`eqtensor.egraph.cache`); False always runs the e-graph
    optimizer_cache: bool = True

    def __setattr__(self, name, value):
        if name not in {f.name for f in fields(Config)}:
            raise AttributeError(f"eqtensor.config has no flag {name!r}")
        if name == "floatX" and value not in _FLOATX:
            raise ValueError(f"config.floatX must be one of {_FLOATX}, got {value!r}")
        if name == "on_unused_input" and value not in ("raise", "warn", "ignore"):
            raise ValueError(f"config.on_unused_input must be 'raise', 'warn' or 'ignore', got {value!r}")
        if name == "mode" and isinstance(value, str) and value.upper() not in MODE_NAMES:
            raise ValueError(f"unknown mode {value!r}; use one of {sorted(MODE_NAMES)} or a Mode(...)")
        if name == "unknown_dim_size" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"config.unknown_dim_size must be a positive int, got {value!r}")
        if name == "optimizer_cache" and not isinstance(value, bool):
            raise ValueError(f"config.optimizer_cache must be True or False, got {value!r}")
        if name == "num_threads" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"config.num_threads must be an int >= 0 (0: automatic), got {value!r}")
        object.__setattr__(self, name, value)

    @contextlib.contextmanager
    def change_flags(self, **flags):
        """Temporarily set flags inside a ``with`` block."""
        old = {k: getattr(self, k) for k in flags}
        try:
            for k, v in flags.items():
                setattr(self, k, v)
            yield self
        finally:
            for k, v in old.items():
                setattr(self, k, v)


config = Config()
change_flags = config.change_flags
