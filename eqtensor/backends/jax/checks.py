"""The run-time assertion ``check`` under ``jax.jit``, through ``jax.experimental.checkify``.

A traced program cannot raise on its values. ``check(x, cond)`` is lowered to
``checkify.check(all(cond), message)``, and a program with a ``check`` anywhere (in an ``ifelse``
branch or a scan's step too) is traced through ``checkify.checkify`` (:func:`checked`): the
jitted function then also returns an error value, the first failed check of the run (checkify
carries it through ``lax.cond``, ``lax.scan`` and ``lax.while_loop``), and the thunk raises it
after the call as ``AssertionError(message)`` (:func:`raise_failed`), the exception and message
of the C and NumPy backends. The program stays one pure jitted function on any device; a
program without ``check`` is traced as before (no error value, no cost).

Why not a host callback raising the error: an exception raised in a callback comes out of XLA
as a ``JaxRuntimeError`` wrapping it, each check would cost a round trip to the host, and a
callback is not allowed in every transformation; checkify keeps only a flag and a code per check.

A condition known while tracing (constants, static arguments) outside branches and loops is
tested then, so a failed one raises before a later trace-time error hides it (``bincount`` of a
negative value would otherwise fail on a negative length first). A failed check leaves shared
variables as they were, so a program with a ``check`` does not donate the buffers of updated
shared variables (XLA could overwrite them before the failure is known).
"""

from __future__ import annotations

from . import runtime as rt

_SUFFIX = " (`check` failed)"


def has_checks(nodes) -> bool:
    """True when one of ``nodes`` is a ``check``."""
    return any(node.op.name == "check" for node in nodes)


def lower_check(node, x, cond, nested: bool):
    """``x``, asserting ``all(cond)``: now when ``cond`` is known and the node runs unconditionally
    (``nested`` false), else when the program runs."""
    message = node.op.params["message"]
    if rt.is_concrete(cond) and not nested:
        return node.op.perform(x, cond)
    escaped = message.replace("{", "{{").replace("}", "}}")  # checkify formats the message
    rt.checkify.check(rt.jnp.all(rt.jnp.asarray(cond)), escaped)
    return x


def checked(fn):
    """``fn`` (traced by ``jax.jit``) made to return ``(error, results)``, its checks functionalized."""
    return rt.checkify.checkify(fn, errors=rt.checkify.user_checks)


def raise_failed(error) -> None:
    """``AssertionError`` with the message of the first failed check of a run, if one failed."""
    failed = error.get_exception()
    if failed is not None:
        text = str(failed)
        raise AssertionError(text[:-len(_SUFFIX)] if text.endswith(_SUFFIX) else text) from None
