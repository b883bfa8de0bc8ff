"""How an optimizer cache entry is written: values in a tagged JSON encoding that keeps their exact
Python types, and an entry as a header line with the SHA-256 of a JSON payload (see
:mod:`eqtensor.egraph.cache`). Decoding checks everything and raises :class:`Damaged`, never anything else.

>>> decode_value(encode_value((1, ("slice", None, -1.5), frozenset({"a"})))) == (1, ("slice", None, -1.5), frozenset({"a"}))
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from dataclasses import fields

import numpy as np

from ..core.dtypes import DTYPES
from ..core.op import OPS
from .report import IterationStats, OptimizationReport


class Uncacheable(Exception):
    """The graph, rules or cost model cannot be described by a stable key."""


class Damaged(Exception):
    """A stored entry that must not be used."""


_HEADER = re.compile(rb"eqtensor-optimizer-recipe 2 sha256=([0-9a-f]{64})")
_SCALAR_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
                  "float32", "float64"}


def encode_value(v):
    """A JSON-able form of a parameter or report value keeping its exact type (raises
    :class:`Uncacheable` for anything else)."""
    if v is None or type(v) in (bool, int, str):
        return v
    if type(v) is float:
        return {"f": v.hex()}
    if isinstance(v, np.generic):
        name = v.dtype.name
        if name not in _SCALAR_DTYPES:
            raise Uncacheable(f"a {name} scalar")
        value = bool(v) if name == "bool" else float(v).hex() if v.dtype.kind == "f" else int(v)
        return {"n": [name, value]}
    if type(v) is tuple:
        return {"t": [encode_value(x) for x in v]}
    if type(v) is list:
        return {"l": [encode_value(x) for x in v]}
    if type(v) is frozenset:
        return {"fs": sorted((encode_value(x) for x in v), key=lambda e: json.dumps(e, sort_keys=True))}
    if type(v) is dict:
        return {"d": [[encode_value(a), encode_value(b)] for a, b in v.items()]}
    if type(v) is bytes:
        return {"b": base64.b64encode(v).decode()}
    if type(v) is slice:
        return {"s": [encode_value(v.start), encode_value(v.stop), encode_value(v.step)]}
    if isinstance(v, np.dtype):
        if v.name not in DTYPES:
            raise Uncacheable(f"dtype {v}")
        return {"dt": v.name}
    if type(v) is IterationStats:
        return {"it": [[f.name, encode_value(getattr(v, f.name))] for f in fields(IterationStats)]}
    raise Uncacheable(f"a value of type {type(v).__name__}")


def decode_value(e, depth: int = 0):
    """The value :func:`encode_value` encoded (raises :class:`Damaged` for anything malformed)."""
    if depth > 64:
        raise Damaged("values nested too deeply")
    if e is None or isinstance(e, (bool, str)) or type(e) is int:
        return e
    if type(e) is not dict or len(e) != 1:
        raise Damaged(f"malformed value {str(e)[:60]}")
    (tag, x), = e.items()
    d = depth + 1
    if tag == "f" and type(x) is str:
        return float.fromhex(x)
    if tag == "n" and type(x) is list and len(x) == 2 and x[0] in _SCALAR_DTYPES:
        name, value = x
        if name == "bool" and type(value) is bool:
            return np.bool_(value)
        if name.startswith("float") and type(value) is str:
            return np.dtype(name).type(float.fromhex(value))
        if name[0] in "iu" and type(value) is int:
            info = np.iinfo(name)
            if info.min <= value <= info.max:
                return np.dtype(name).type(value)
    elif tag in ("t", "l", "fs") and type(x) is list:
        items = [decode_value(i, d) for i in x]
        return tuple(items) if tag == "t" else items if tag == "l" else frozenset(items)
    elif tag == "d" and type(x) is list and all(type(p) is list and len(p) == 2 for p in x):
        return {decode_value(a, d): decode_value(b, d) for a, b in x}
    elif tag == "b" and type(x) is str:
        return base64.b64decode(x, validate=True)
    elif tag == "s" and type(x) is list and len(x) == 3:
        return slice(*(decode_value(i, d) for i in x))
    elif tag == "dt" and x in DTYPES:
        return np.dtype(x)
    elif tag == "it" and type(x) is list and all(type(p) is list and len(p) == 2 for p in x):
        values = {name: decode_value(v, d) for name, v in x}
        if set(values) == _ITERATION_FIELDS and len(values) == len(x):
            return IterationStats(**values)
    raise Damaged(f"malformed value {str(e)[:60]}")


_ITERATION_FIELDS = {f.name for f in fields(IterationStats)}


def _int(v, lo: int, hi: int | None = None) -> int:
    if type(v) is not int or v < lo or (hi is not None and v >= hi):
        raise Damaged(f"index {v!r} out of range")
    return v


#: report fields a stored summary may not set (they describe this compile, not the cached run)
_NOT_SUMMARY = {"fallback", "cached", "schedule", "egraph", "times", "cost_before", "cost_after", "nodes_before",
                "nodes_after", "cache_damaged", "cache_note"}


_SUMMARY_FIELDS = {f.name for f in fields(OptimizationReport)} - _NOT_SUMMARY


def encode_entry(k: str, entry) -> bytes:
    (steps, outs), summary = entry[0], entry[1]
    out_steps = []
    for s in steps:
        if s[0] == "leaf":
            out_steps.append(["leaf", s[1]])
        elif s[0] == "const":
            data = np.asarray(s[1])  # not ascontiguousarray: it makes a 0-d array 1-d
            if data.dtype.name not in DTYPES:
                raise Uncacheable(f"a constant of dtype {data.dtype}")
            raw = data.astype(data.dtype.newbyteorder("<"), copy=False).tobytes()
            out_steps.append(["const", data.dtype.name, list(data.shape), base64.b64encode(raw).decode(),
                              bool(s[2])])
        else:
            out_steps.append(["op", s[1], [[name, encode_value(v)] for name, v in s[2].items()], list(s[3])])
    payload = {"key": k, "steps": out_steps, "outputs": list(outs),
               "summary": [[name, encode_value(v)] for name, v in summary.items()]}
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    return b"eqtensor-optimizer-recipe 2 sha256=" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def decode_entry(k: str, data: bytes):
    """The entry stored in ``data`` under key ``k`` (raises :class:`Damaged`, never anything else)."""
    try:
        return _decode(k, data)
    except Damaged:
        raise
    except Exception as e:  # noqa: BLE001  (a malformed payload: an unhashable name, a bad number...)
        raise Damaged(f"malformed: {type(e).__name__}: {str(e)[:80]}") from None


def _decode(k: str, data: bytes):
    head, sep, body = data.partition(b"\n")
    m = _HEADER.fullmatch(head)
    if not sep or m is None:
        raise Damaged("not an optimizer cache entry (header)")
    if not hmac.compare_digest(hashlib.sha256(body).hexdigest().encode(), m.group(1)):
        raise Damaged("checksum mismatch")
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        raise Damaged(f"unparsable: {e}") from None
    if type(payload) is not dict or set(payload) != {"key", "steps", "outputs", "summary"}:
        raise Damaged("unexpected layout")
    if payload["key"] != k:
        raise Damaged("stored under another key")
    raw_steps, raw_outs, raw_summary = payload["steps"], payload["outputs"], payload["summary"]
    if type(raw_steps) is not list or type(raw_outs) is not list or type(raw_summary) is not list or not raw_outs:
        raise Damaged("unexpected layout")
    steps = []
    for i, s in enumerate(raw_steps):
        if type(s) is not list or not s:
            raise Damaged(f"step {i} malformed")
        if s[0] == "leaf" and len(s) == 2:
            steps.append(("leaf", _int(s[1], 0)))
        elif s[0] == "const" and len(s) == 5:
            steps.append(("const", _decode_array(*s[1:4]), _bool(s[4])))
        elif s[0] == "op" and len(s) == 4 and type(s[1]) is str and type(s[2]) is list and type(s[3]) is list:
            defn = OPS.get(s[1])
            if defn is None:
                raise Damaged(f"step {i}: unknown op {s[1][:40]!r}")
            params = {}
            for p in s[2]:
                if type(p) is not list or len(p) != 2 or p[0] not in defn.params or p[0] in params:
                    raise Damaged(f"step {i}: bad parameter for op {defn.name}")
                params[p[0]] = decode_value(p[1])
            if set(params) != set(defn.params):
                raise Damaged(f"step {i}: missing parameters for op {defn.name}")
            ins = tuple(_int(j, 0, i) for j in s[3])
            if defn.nin is not None and len(ins) != defn.nin:
                raise Damaged(f"step {i}: op {defn.name} with {len(ins)} inputs")
            steps.append(("op", defn.name, params, ins))
        else:
            raise Damaged(f"step {i} malformed")
    outs = [_int(j, 0, len(steps)) for j in raw_outs]
    summary = {}
    for p in raw_summary:
        if type(p) is not list or len(p) != 2 or p[0] not in _SUMMARY_FIELDS:
            raise Damaged("malformed summary")
        summary[p[0]] = decode_value(p[1])
    return (steps, outs), summary, k


def _bool(v) -> bool:
    if type(v) is not bool:
        raise Damaged("malformed flag")
    return v


def _decode_array(dtype, shape, b64):
    if dtype not in DTYPES or type(shape) is not list or len(shape) > 32 or type(b64) is not str:
        raise Damaged("malformed constant")
    shape = tuple(_int(n, 0) for n in shape)
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError:
        raise Damaged("malformed constant bytes") from None
    dt = np.dtype(dtype).newbyteorder("<")
    if len(raw) != math.prod(shape) * dt.itemsize:
        raise Damaged("constant bytes do not match its shape")
    return np.frombuffer(raw, dtype=dt).reshape(shape).astype(dtype)
