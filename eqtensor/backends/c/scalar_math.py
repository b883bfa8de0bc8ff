"""The inline scalar helpers loop kernels call, and the libm redeclarations that vectorize them.

Integer helpers (``eq_fdiv_i64``, ``eq_mod_u8``, ``eq_max_b``, …) and float helpers (``eq_mod_d``,
``eq_sigmoid_f``, ``eq_softplus_d``, ``eq_fin_f``, …) are named by the type tags of
:data:`eqtensor.backends.c.kernels.C_TYPES`; both the module's runtime
(:mod:`eqtensor.backends.c.prelude`) and every translation unit of loop kernels include them.

>>> "eq_mod_i64" in int_helpers() and "eq_softplus_f" in float_helpers()
True

The texts are constant: each is built once.
"""

from __future__ import annotations

from functools import cache

import numpy as np

#: math functions glibc's libmvec provides SIMD variants for (double and float)
LIBMVEC_FUNCS = (
    "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "erf", "erfc", "exp", "exp2",
    "expm1", "log", "log10", "log1p", "log2", "sin", "sinh", "tan", "tanh",
)
LIBMVEC_FUNCS2 = ("atan2", "pow")


@cache
def libmvec_declarations() -> str:
    """Redeclare libm functions with ``omp declare simd`` so loops call libmvec's vector versions."""
    lines = []
    for name in LIBMVEC_FUNCS:
        lines.append(f"#pragma omp declare simd notinbranch\nextern double {name}(double);")
        lines.append(f"#pragma omp declare simd notinbranch\nextern float {name}f(float);")
    for name in LIBMVEC_FUNCS2:
        lines.append(f"#pragma omp declare simd notinbranch\nextern double {name}(double, double);")
        lines.append(f"#pragma omp declare simd notinbranch\nextern float {name}f(float, float);")
    return "\n".join(lines)


INT_TYPES = {
    "i8": "npy_int8", "i16": "npy_int16", "i32": "npy_int32", "i64": "npy_int64",
    "u8": "npy_uint8", "u16": "npy_uint16", "u32": "npy_uint32", "u64": "npy_uint64", "b": "npy_bool",
}


@cache
def int_helpers() -> str:
    """``eq_fdiv``, ``eq_mod`` (floor semantics, 0 for a zero divisor), ``eq_max`` and ``eq_min``
    of every integer type."""
    out = []
    for tag, ct in INT_TYPES.items():
        signed = tag.startswith("i")
        neg_one = (f"if (b == ({ct})-1) return ({ct})(0 - (npy_uint64)a);" if signed else "")
        adjust_q = "if ((a % b) != 0 && ((a < 0) != (b < 0))) q--;" if signed else ""
        mod_neg = f"if (b == ({ct})-1) return 0;" if signed else ""
        adjust_r = "if (r != 0 && ((r < 0) != (b < 0))) r += b;" if signed else ""
        out.append(
            f"static inline {ct} eq_fdiv_{tag}({ct} a, {ct} b) {{ if (b == 0) return 0; {neg_one} "
            f"{ct} q = a / b; {adjust_q} return q; }}\n"
            f"static inline {ct} eq_mod_{tag}({ct} a, {ct} b) {{ if (b == 0) return 0; {mod_neg} "
            f"{ct} r = a % b; {adjust_r} return r; }}\n"
            f"static inline {ct} eq_max_{tag}({ct} a, {ct} b) {{ return a > b ? a : b; }}\n"
            f"static inline {ct} eq_min_{tag}({ct} a, {ct} b) {{ return a < b ? a : b; }}\n"
        )
    return "".join(out)


#: the float helpers of one C type (``str.format`` fields: ``ct`` the C type, ``tag`` its type tag,
#: ``f`` the math functions' suffix, ``lim``/``zlim``/``scale``/``tiny`` the constants of
#: ``eq_expneg`` and ``eq_softplus``)
FLOAT_HELPERS = """
/* as NumPy: NaN propagates, and of two equal values (-0.0 and 0.0) the second is returned */
static inline {ct} eq_max_{tag}({ct} a, {ct} b) {{ return (a > b || a != a) ? a : b; }}
static inline {ct} eq_min_{tag}({ct} a, {ct} b) {{ return (a < b || a != a) ? a : b; }}
static inline {ct} eq_mod_{tag}({ct} a, {ct} b) {{
    {ct} m = fmod{f}(a, b);
    if (b == 0) return m;
    if (m != 0) {{ if ((b < 0) != (m < 0)) m += b; }} else m = copysign{f}(0, b);
    return m;
}}
static inline {ct} eq_fdiv_{tag}({ct} a, {ct} b) {{
    {ct} m, d, fd;
    if (b == 0) return a / b;
    m = fmod{f}(a, b);
    d = (a - m) / b;
    if (m != 0 && ((b < 0) != (m < 0))) d -= 1;
    if (d != 0) {{ fd = floor{f}(d); if (d - fd > ({ct})0.5) fd += 1; }}
    else fd = copysign{f}(0, a / b);
    return fd;
}}
static inline {ct} eq_sign_{tag}({ct} x) {{ return x > 0 ? 1 : (x < 0 ? -1 : (x == 0 ? 0 : x)); }}
/* exp(t) for t <= 0 with the argument of exp kept in its normal range (vector exp stays on its fast
   path): exp(t) = exp(t + L) * exp(-L) below -L. The clamp is z - L with z = (t != t), not the
   constant -L: GCC turns exp(c ? -L : a) into c ? exp(-L) : exp(a), calling exp on the unclamped
   value (its slow scalar path, ~10x slower for out-of-range lanes) */
static inline {ct} eq_expneg_{tag}({ct} t) {{
    const {ct} L = {lim}, C = {scale}, z = ({ct})(t != t);
    {ct} a = t < -L ? t + L : t;
    return exp{f}(a < -L ? z - L : a) * (t < -L ? C : 1);
}}
static inline {ct} eq_sigmoid_{tag}({ct} x) {{
    {ct} e = eq_expneg_{tag}(-fabs{f}(x));
    return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}}
/* softplus(x) = max(x, 0) + log1p(exp(-|x|)) with every vector math call on its fast path: the
   argument of exp is clamped to [-L, 0] without a constant arm (see eq_expneg); t = exp(-|x|) is
   zeroed where it cannot matter (x > L: the result is x; x < -Z: the result rounds to 0) and scaled
   by exp(-L) for -Z <= x < -L (exp(x), subnormal below ~-708), so no lane multiplies into
   underflow (a microcode assist). Below 2^-54 (2^-25 for float) log1p(t) rounds to t: log1p gets 0
   there and t is added instead (the vector log1p's polynomial underflows into subnormals, and
   assists, for t around e^-100..e^-400). Lanes are selected by 0/1 factors, not ?: (GCC threads
   conditionals through the call and then emits it twice per vector). ~3x faster than
   max(x, 0) + log1p(eq_expneg(-|x|)) on x in [-1000, 1000]. */
static inline {ct} eq_softplus_{tag}({ct} x) {{
    const {ct} L = {lim}, Z = {zlim}, C = {scale}, z = ({ct})(x != x);
    const {ct} m = -fabs{f}(x), a = m < -L ? m + L : m;
    const {ct} e = exp{f}(a < -L ? z - L : a);
    const {ct} lo = ({ct})(x < -L), keep = ({ct})(x <= L) * ({ct})(x >= -Z);
    const {ct} t = e * (keep * (lo * C + (1 - lo)));
    const {ct} sk = ({ct})(t < {tiny});
    return (x > 0 ? x : 0) + log1p{f}(t * (1 - sk)) + t * sk;
}}
static inline {ct} eq_log1mexp_{tag}({ct} x) {{
    return x > ({ct})-0.6931471805599453 ? log{f}(-expm1{f}(x)) : log1p{f}(-exp{f}(x));
}}
static inline {ct} eq_fin_{tag}({ct} x) {{ return isfinite(x) ? x : 0; }}
"""

#: (tag, C type, math suffix, lim, zlim, tiny) of float64 and float32
FLOAT_TYPES = (("d", "double", "", 708, 746, "0x1p-54"), ("f", "float", "f", 87, 104, "0x1p-25f"))


@cache
def float_helpers() -> str:
    """NumPy's max/min/mod/floor division/sign and the stable sigmoid, softplus and log1mexp of
    float64 and float32."""
    out = []
    for tag, ct, f, lim, zlim, tiny in FLOAT_TYPES:
        scale = float(np.exp(np.array(-lim, dtype="float64" if tag == "d" else "float32"))).hex()
        out.append(FLOAT_HELPERS.format(ct=ct, tag=tag, f=f, lim=lim, zlim=zlim, tiny=tiny, scale=scale))
    return "".join(out)
