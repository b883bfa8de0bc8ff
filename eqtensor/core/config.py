"""Global configuration (``eqtensor.config``), PyTensor style.

>>> from eqtensor import config
>>> config.floatX
'float64'
>>> with config.change_flags(floatX="float32"):
...     config.floatX
'float32'

Compiles are logged on the ``eqtensor`` logger (:data:`logger`): one DEBUG record per compiled
function with its phases and their times, at INFO when it took longer than
:data:`VERBOSE_SECONDS`. ``config.verbose = True`` (or ``EQTENSOR_VERBOSE=1``) prints those slow
compiles to stderr without any logging set-up: one line with the phase times when the compile
ends (no line for compiles under a second).

Every field can be set from the environment when eqtensor is imported, PyTensor's
``PYTENSOR_FLAGS`` convention: ``EQTENSOR_FLAGS="mode=JAX,floatX=float32"`` (comma-separated
``name=value`` pairs; booleans as ``True``/``False``/``1``/``0``; :func:`parse_flags`). An unknown
name or a bad value stops the import with an error naming the variable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass, field, fields

_FLOATX = ("float64", "float32")

#: the named modes (``eqtensor.compile.mode`` defines them; a test keeps both lists equal)
MODE_NAMES = ("FAST_COMPILE", "NUMPY", "C", "FAST_RUN", "JAX", "NUMBA", "DEBUGMODE", "NANGUARDMODE")


def _default_cache_dir() -> str:
    env = os.environ.get("EQTENSOR_CACHE_DIR")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "eqtensor")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


#: the package's logger: compile phases and their times (DEBUG; INFO for compiles slower than
#: :data:`VERBOSE_SECONDS`)
logger = logging.getLogger("eqtensor")

#: with ``config.verbose``, compiles taking longer than this (in seconds) are printed to stderr
VERBOSE_SECONDS = 1.0


def is_slow_compile(seconds: float) -> bool:
    """True for a compile long enough to be reported (INFO, and printed when ``config.verbose``)."""
    return seconds > VERBOSE_SECONDS


class _VerboseHandler(logging.Handler):
    """Prints slow compiles (records carrying ``compile_seconds`` above :data:`VERBOSE_SECONDS`) to
    the current ``sys.stderr``. Attached to :data:`logger` while ``config.verbose`` is on."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("eqtensor: %(message)s"))

    def filter(self, record):
        seconds = getattr(record, "compile_seconds", None)
        return seconds is not None and is_slow_compile(seconds)

    def emit(self, record):
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001  (logging's convention: report, never raise)
            self.handleError(record)


VERBOSE_HANDLER = _VerboseHandler()


def log_compile(level: int, msg: str, *args, seconds: float, phases: dict) -> None:
    """Log one compile on :data:`logger`. With ``config.verbose`` and a logger configured above
    ``level`` (the default: WARNING), a slow compile still reaches the verbose handler, without
    passing through the application's handlers."""
    extra = {"compile_seconds": seconds, "compile_phases": phases}
    if logger.isEnabledFor(level):
        logger.log(level, msg, *args, extra=extra)
    elif config.verbose and is_slow_compile(seconds):
        VERBOSE_HANDLER.handle(logger.makeRecord(logger.name, level, __file__, 0, msg, args, None, extra=extra))


def _apply_verbose(on: bool) -> None:
    if on and VERBOSE_HANDLER not in logger.handlers:
        logger.addHandler(VERBOSE_HANDLER)
    elif not on and VERBOSE_HANDLER in logger.handlers:
        logger.removeHandler(VERBOSE_HANDLER)


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
    #: print the phases of compiles slower than a second to stderr (default: ``$EQTENSOR_VERBOSE``)
    verbose: bool = field(default_factory=lambda: _env_flag("EQTENSOR_VERBOSE"))

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
        if name == "verbose":
            if not isinstance(value, bool):
                raise ValueError(f"config.verbose must be True or False, got {value!r}")
            _apply_verbose(value)
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


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _convert(name: str, text: str):
    kind = type(getattr(Config(), name))
    if kind is bool:
        low = text.lower()
        if low not in _TRUE + _FALSE:
            raise ValueError(f"{name} takes True or False, got {text!r}")
        return low in _TRUE
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name} takes an integer, got {text!r}") from None
    return text


def parse_flags(text: str, variable: str = "EQTENSOR_FLAGS") -> dict:
    """``{field: value}`` from ``"name=value,name=value"``; a clear ValueError names ``variable``.

    >>> parse_flags("mode=JAX, floatX=float32,optimizer_cache=False")
    {'mode': 'JAX', 'floatX': 'float32', 'optimizer_cache': False}
    >>> parse_flags("floatx=float32")
    Traceback (most recent call last):
    ...
    ValueError: EQTENSOR_FLAGS: eqtensor.config has no flag 'floatx' (its flags: floatX, mode, on_unused_input, cache_dir, unknown_dim_size, num_threads, optimizer_cache, verbose)
    """
    names = [f.name for f in fields(Config)]
    out = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, eq, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name:
            raise ValueError(f"{variable}: expected name=value pairs separated by commas, got {item!r}")
        if name not in names:
            raise ValueError(f"{variable}: eqtensor.config has no flag {name!r} (its flags: {', '.join(names)})")
        try:
            out[name] = _convert(name, value)
        except ValueError as e:
            raise ValueError(f"{variable}: {e}") from None
    return out


def apply_env_flags(cfg: "Config", environ=os.environ) -> None:
    """Set ``cfg``'s fields from ``$EQTENSOR_FLAGS`` (see the module docstring); errors name the variable."""
    for name, value in parse_flags(environ.get("EQTENSOR_FLAGS", "")).items():
        try:
            setattr(cfg, name, value)
        except (ValueError, AttributeError) as e:
            raise ValueError(f"EQTENSOR_FLAGS: {e}") from None


config = Config()
apply_env_flags(config)
change_flags = config.change_flags
