"""JAX, loaded on first use: eqtensor does not need it to import, and a plain install lacks it.

:func:`load` imports ``jax`` and fills this module's names (``jax``, ``jnp``, ``lax``, ``special``
for ``jax.scipy.special``, ``slinalg`` for ``jax.scipy.linalg``, ``checkify`` for
``jax.experimental.checkify``); the lowering tables read them
through this module when a graph is traced, so none of them imports JAX at module level. Without
JAX, :func:`load` raises :class:`JaxUnavailable`, naming the extra that installs it.

64-bit types: JAX computes in 32 bits unless ``jax_enable_x64`` is on. eqtensor never changes that
global flag (it would change every other JAX computation of the process); a graph with a 64-bit
value is traced and called inside ``jax.enable_x64(True)``, a scope that ends with the call
(:func:`needs_x64`).
"""

from __future__ import annotations

import numpy as np

jax = jnp = lax = special = slinalg = checkify = None

#: how to install what is missing
EXTRA = 'pip install "eqtensor[jax]"'


class JaxUnavailable(ImportError):
    """``mode="JAX"`` without an importable JAX."""


def load():
    """Import JAX (once) and return the ``jax`` module; :class:`JaxUnavailable` when it is missing."""
    global jax, jnp, lax, special, slinalg, checkify
    if jax is None:
        try:
            import jax as _jax  # lazy: optional dependency (the "jax" extra)
            import jax.numpy as _jnp
            import jax.scipy.linalg as _slinalg
            import jax.scipy.special as _special
            from jax import lax as _lax
            from jax.experimental import checkify as _checkify
        except ImportError as e:
            raise JaxUnavailable(f"the JAX backend (mode='JAX') needs JAX, which cannot be imported here ({e}). "
                                 f"Install it with: {EXTRA}") from e
        jnp, lax, special, slinalg, checkify = _jnp, _lax, _special, _slinalg, _checkify
        jax = _jax
    return jax


def available() -> bool:
    """True when JAX can be imported."""
    try:
        load()
    except JaxUnavailable:
        return False
    return True


_WIDE = {"float64", "int64", "uint64", "complex128"}


def needs_x64(variables) -> bool:
    """True when one of ``variables`` has a 64-bit dtype: the graph then runs with x64 enabled."""
    return any(v.dtype in _WIDE for v in variables)


def is_concrete(value) -> bool:
    """True for a value known when the graph is traced (a NumPy array or scalar, not a tracer)."""
    return isinstance(value, (np.ndarray, np.generic))
