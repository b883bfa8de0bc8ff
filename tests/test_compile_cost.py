"""What a compile costs once its results are cached: a later process (or a rebuild after the memory is
cleared) replays the optimizer's recipes to the very same graphs, finds the C module, and asks the
compiler nothing; the one-time work of a process (the compiler probe, eqtensor's source hash, the
runtime's declarations) is cached on disk or cheap, and every such record is checked before use."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import child_env

import eqtensor as et
from eqtensor import config, tensor as pt
from eqtensor.backends.c import build, declarations, toolchain, toolchain_record
from eqtensor.core.fgraph import FunctionGraph
from eqtensor.egraph import cache as opt_cache, cache_codec, cache_key
from eqtensor.egraph.optimizer import optimize_graph
from eqtensor.gradient import grad

HAVE_CC = toolchain.compiler_works()


@pytest.fixture
def fresh_cache(tmp_path):
    opt_cache.clear_memory()
    with config.change_flags(cache_dir=str(tmp_path), optimizer_cache=True):
        yield tmp_path
    opt_cache.clear_memory()


def _mlp(X, Y, W, b):
    """A cost whose stable form the e-graph computes (log of a sum of exps), and its gradients."""
    z = pt.dot(pt.tanh(pt.dot(X, W) + b), W.T)
    m = z.max(axis=1, keepdims=True)
    lse = m + pt.log(pt.sum(pt.exp(z - m), axis=1, keepdims=True))
    cost = -pt.mean(pt.sum(Y * (z - lse), axis=1))
    return [cost, *grad(cost, [W, b])]


def _data(rng):
    return rng.normal(size=(5, 3)), np.eye(3)[rng.integers(0, 3, 5)], rng.normal(size=(3, 3)), rng.normal(size=3)


def _reference(X, Y, W, b):
    z = np.tanh(X @ W + b) @ W.T
    lp = z - (z.max(1, keepdims=True) + np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)))
    return -np.mean(np.sum(Y * lp, axis=1))


def _build(mode):
    v = pt.dmatrix("X"), pt.dmatrix("Y"), pt.dmatrix("W"), pt.dvector("b")
    return et.function(list(v), _mlp(*v), mode=mode)


# ---------------------------------------------------------------------------- optimizer recipes
def test_a_zero_dimensional_constant_keeps_its_shape_on_disk():
    """``np.ascontiguousarray`` makes 0-d arrays 1-d: a recipe read back from disk had a (1,)
    constant where the e-graph's graph had a scalar (another graph, another key downstream)."""
    k = "0" * 64
    steps = [("const", np.array(-1.0), False), ("const", np.arange(6.0).reshape(2, 3).T, True)]
    entry = cache_codec.decode_entry(k, cache_codec.encode_entry(k, ((steps, [0, 1]), {}, k)))
    a, b = entry[0][0]
    assert a[1].shape == () and a[1] == -1.0 and a[2] is False
    np.testing.assert_array_equal(b[1], np.arange(6.0).reshape(2, 3).T)


def test_a_replayed_recipe_reuses_the_unchanged_nodes_of_its_input(fresh_cache):
    """As the e-graph's extraction does: the graph from the cache is the graph from the e-graph,
    node for node, so graphs built on it (a gradient's) have the same key in every process."""
    x = pt.dvector("x")
    keep = pt.exp(x) + 1.0
    fg = FunctionGraph([x], [pt.log(pt.sum(pt.exp(keep))) * keep], 1, 1)
    fresh, r1 = optimize_graph(fg)
    opt_cache.clear_memory()  # the next lookup reads the disk entry
    replayed, r2 = optimize_graph(fg)
    assert r1.cached is None and r2.cached == "disk"
    structure = lambda g: cache_key.structure(*cache_key.leaves_and_nodes(g.outputs))
    assert structure(replayed) == structure(fresh)
    original = {id(n.out) for n in cache_key.leaves_and_nodes(fg.outputs)[1]}
    kept = lambda g: {id(n.out) for n in cache_key.leaves_and_nodes(g.outputs)[1]} & original
    assert kept(replayed) == kept(fresh) and kept(replayed)


MODES = ["NUMPY", pytest.param("C", marks=pytest.mark.skipif(not HAVE_CC, reason="no C compiler"))]


@pytest.mark.parametrize("mode", MODES)
def test_a_gradient_rebuilt_from_the_disk_caches_runs_no_e_graph_and_no_compiler(fresh_cache, monkeypatch, rng, mode):
    data = _data(rng)
    first = _build(mode)
    entries = sorted(os.listdir(fresh_cache / "optimizer"))
    opt_cache.clear_memory()
    build._LOADED.clear()
    compiled = []
    monkeypatch.setattr(build, "compile_module", lambda *a, **k: compiled.append(a))
    second = _build(mode)
    assert second.maker.report.cached == "disk" and not compiled
    assert sorted(os.listdir(fresh_cache / "optimizer")) == entries, "no recipe stored under a new key"
    for a, b in zip(first(*data), second(*data)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    cost, gW, gb = second(*data)
    np.testing.assert_allclose(cost, _reference(*data), rtol=1e-10)
    X, Y, W, b = data
    for g, arg in ((gW, W), (gb, b)):
        num = np.zeros_like(arg)
        for i in np.ndindex(arg.shape):
            d = np.zeros_like(arg)
            d[i] = 1e-6
            args = [(a + d if a is arg else a) for a in data], [(a - d if a is arg else a) for a in data]
            num[i] = (_reference(*args[0]) - _reference(*args[1])) / 2e-6
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------- the compiler's record
@pytest.fixture
def probe(monkeypatch, tmp_path):
    """``toolchain._toolchain`` afresh against ``tmp_path``, counting the compiler's probes."""
    calls = []
    real = toolchain._probe
    monkeypatch.setattr(toolchain, "_probe", lambda cc: calls.append(cc) or real(cc))
    toolchain._toolchain.cache_clear()
    with config.change_flags(cache_dir=str(tmp_path)):
        yield calls
    toolchain._toolchain.cache_clear()


def _record(tmp_path):
    return toolchain_record.record_path(toolchain.compiler(), str(tmp_path), (*toolchain.CFLAGS, *toolchain.LIBS))


@pytest.mark.skipif(not HAVE_CC, reason="no C compiler")
def test_the_compiler_is_probed_once_per_cache_directory(probe, tmp_path):
    version, works = toolchain._toolchain()
    assert works and probe == [toolchain.compiler()]
    assert version == subprocess.run([toolchain.compiler(), "--version"], capture_output=True, text=True).stdout
    path = _record(tmp_path)
    assert os.path.dirname(path) == str(tmp_path / "c" / "toolchain")
    assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == "0o700"
    toolchain._toolchain.cache_clear()
    assert toolchain._toolchain() == (version, True) and len(probe) == 1, "read back, not probed"


@pytest.mark.skipif(not HAVE_CC, reason="no C compiler")
@pytest.mark.parametrize("damage", ["garbage", "checksum", "empty", "symlink", "json", "not works"])
def test_a_damaged_compiler_record_is_probed_again_and_rewritten(probe, tmp_path, damage):
    toolchain._toolchain()
    path = Path(_record(tmp_path))
    good = path.read_bytes()
    header, body = good.split(b"\n", 1)
    if damage == "garbage":
        path.write_bytes(os.urandom(200))
    elif damage == "checksum":
        path.write_bytes(header + b"\n" + body.replace(b"true", b"fals"))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "symlink":
        target = tmp_path / "elsewhere.json"
        target.write_bytes(good)
        path.unlink()
        path.symlink_to(target)
    else:
        bad = b"[1, 2]" if damage == "json" else json.dumps({"compiler": toolchain.compiler(), "version": "x",
                                                               "works": False}).encode()
        path.write_bytes(b"eqtensor-toolchain 1 sha256=%s\n" % hashlib.sha256(bad).hexdigest().encode() + bad)
    toolchain._toolchain.cache_clear()
    assert toolchain._toolchain()[1] and len(probe) == 2
    assert path.read_bytes() == good and not path.is_symlink()


def test_a_record_is_named_by_the_compiler_file_and_flags(tmp_path):
    cc = tmp_path / "cc"
    cc.write_text("#!/bin/sh\n")
    name = lambda flags=("-O3",): toolchain_record.record_path(str(cc), str(tmp_path), flags)
    before = name()
    assert name() == before and name(("-O2",)) != before
    os.utime(cc, ns=(1, 1))
    assert name() != before
    assert toolchain_record.record_path(str(tmp_path / "missing"), str(tmp_path), ()) is None


def test_a_compiler_that_fails_is_not_recorded(probe, tmp_path, monkeypatch):
    cc = tmp_path / "failing-cc"
    cc.write_text("#!/bin/sh\nexit 1\n")
    cc.chmod(0o755)
    monkeypatch.setattr(toolchain, "compiler", lambda: str(cc))
    assert toolchain._toolchain() == ("", False)
    assert not (tmp_path / "c" / "toolchain").exists()


def test_records_in_a_directory_others_can_write_are_not_trusted_as_they_are(tmp_path):
    path = toolchain_record.record_path(sys.executable, str(tmp_path), ())
    toolchain_record.write_record(path, {"works": True})
    os.chmod(os.path.dirname(path), 0o777)
    assert toolchain_record.read_record(path) == {"works": True}  # our directory: tightened first
    assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == "0o700"
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the cache directory should be")
    other = toolchain_record.record_path(sys.executable, str(blocker), ())
    toolchain_record.write_record(other, {"works": True})  # nothing raises, nothing written
    assert toolchain_record.read_record(other) is None


# ---------------------------------------------------------------------------- eqtensor's source hash
def _package(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("A = 1\n")
    (pkg / "sub" / "b.py").write_text("B = 2\n")
    (pkg / "sub" / "notes.txt").write_text("not source\n")
    return pkg


def test_the_source_stamp_changes_with_any_source_file(tmp_path):
    pkg = _package(tmp_path)
    files = cache_key._source_files(pkg)
    assert [f[0] for f in files if f[0] != "egglog"] == ["pkg/a.py", "pkg/sub/b.py"]
    content = cache_key._content_hash(files)
    (pkg / "sub" / "b.py").write_text("B = 3\n")
    changed = cache_key._source_files(pkg)
    assert [f[2] for f in changed] != [f[2] for f in files]
    assert cache_key._content_hash(changed) != content


def test_the_source_hash_is_remembered_and_checked(fresh_cache, monkeypatch):
    monkeypatch.setattr(cache_key, "_source_hash", None)
    real = cache_key._eqtensor_source()
    (memo,) = [p for p in (fresh_cache / "optimizer").iterdir() if p.name.startswith("source-")]
    monkeypatch.setattr(cache_key, "_source_hash", None)
    monkeypatch.setattr(cache_key, "_content_hash", lambda files: pytest.fail("recomputed"))
    assert cache_key._eqtensor_source() == real
    monkeypatch.undo()
    for damage in (b"", b"0" * 64 + b" " + b"1" * 64 + b"\n", os.urandom(129)):
        memo.write_bytes(damage)
        monkeypatch.setattr(cache_key, "_source_hash", None)
        assert cache_key._eqtensor_source() == real
        assert memo.read_bytes().startswith(real.encode())


# ---------------------------------------------------------------------------- the runtime's header
@pytest.mark.parametrize("text, header, definitions", [
    ("static int f(void) { return '}'; }\n", "int f(void);\n", "int f(void)\n{ return '}'; }\n"),
    ('static const char *s = "a;{\\"}";\n', 'extern const char *s;\n', 'const char *s = "a;{\\"}";\n'),
    ("/* c { */ static int g(int a) /* x */ { /* } */ return a; }\n", "int g(int a) /* x */;\n",
     "int g(int a) /* x */\n{ /* } */ return a; }\n"),
    ("#define X \\\n  1\nstatic int y = X;\n", "#define X \\\n  1\nextern int y;\n", "int y = X;\n"),
    ("static int h(void) {\n#pragma omp simd\n for(;;){}\n}\n", "int h(void);\n",
     "int h(void)\n{\n#pragma omp simd\n for(;;){}\n}\n"),
    ("typedef struct { int a; } T;\nstatic struct { int b; } q = {1};\n", "typedef struct { int a; } T;\n",
     "static struct { int b; } q = {1};\n"),
])
def test_split_finds_items_around_literals_comments_and_preprocessor_lines(text, header, definitions):
    assert declarations.split([text]) == (header, [definitions])


def test_split_gives_each_text_its_definitions_under_one_header():
    header, defs = declarations.split(["static int a(void) { return 1; }\n",
                                       "static int b(void) { return a() + 1; }\n"])
    assert header == "int a(void);\nint b(void);\n"
    assert defs == ["int a(void)\n{ return 1; }\n", "int b(void)\n{ return a() + 1; }\n"]


@pytest.mark.parametrize("text", ['static char *s = "open;\n', "static int f(void) { /* open\n"])
def test_split_rejects_unterminated_text(text):
    with pytest.raises(ValueError):
        declarations.split([text])


# ---------------------------------------------------------------------------- a later process
CHILD = textwrap.dedent("""
    import json, subprocess, sys, time
    sys.path.insert(0, {tests!r})
    import numpy as np, eqtensor as et
    from eqtensor import tensor as pt
    from eqtensor.backends.c import build
    from test_compile_cost import _build, _data
    started = []
    real = subprocess.Popen.__init__
    def spy(self, args, *a, **k):
        started.append(str(args[0]))
        real(self, args, *a, **k)
    subprocess.Popen.__init__ = spy
    et.config.cache_dir = {cache!r}
    reports = []
    from eqtensor.egraph import optimizer
    real_opt = optimizer.optimize_graph
    def opt(*a, **k):
        new, report = real_opt(*a, **k)
        reports.append(report.cached)
        return new, report
    sys.modules["eqtensor.gradient"].optimize_graph = opt
    sys.modules["eqtensor.compile.function"].optimize_graph = opt
    f = _build("C")
    out = f(*_data(np.random.default_rng(0)))
    print(json.dumps({{"cached": reports, "started": started, "cost": float(out[0])}}))
""")


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_CC, reason="no C compiler")
def test_a_later_process_replays_everything_and_starts_no_compiler(tmp_path):
    def child():
        code = CHILD.format(tests=os.path.dirname(__file__), cache=str(tmp_path))
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), timeout=600)
        assert p.returncode == 0, p.stderr[-3000:]
        return json.loads(p.stdout.strip().splitlines()[-1])

    cold, warm = child(), child()
    assert cold["cached"] == [None, None] and cold["started"], "the first process optimizes and compiles"
    assert warm["cached"] == ["disk", "disk"], warm
    assert warm["started"] == [], "no compiler probe, no compiler version, no build"
    assert warm["cost"] == cold["cost"]
    assert warm["cost"] == pytest.approx(_reference(*_data(np.random.default_rng(0))), rel=1e-10)
