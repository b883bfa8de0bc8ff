"""The optimizer cache cannot lie: damaged entries are detected, removed, recomputed and never
replayed; other users' entries are not loaded; cache directories are private; an unusable cache
directory does not break compiling.

Everything works on real files. Permission checks run in a child process as an unprivileged user
(root ignores permission bits): ``nobody`` when the suite runs as root, through ``setpriv`` with
read-only access to the interpreter when it lives where ``nobody`` cannot read (e.g. ``/root``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pytest
from conftest import child_env, chown_tree

import eqtensor as et
from eqtensor import config, tensor as pt
from eqtensor.egraph import cache as opt_cache, cache_codec, cache_files, cache_key

#: the graphs compiled here (also by the child process, which gets this text)
GRAPHS_CODE = r"""
import numpy as np
import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.compile.mode import Mode
from eqtensor.egraph import Budget

# a run stopped by the time budget (a loaded machine) is not cached: give it all the time it needs
MODE = Mode(backend="numpy", budget=Budget(seconds=300.0))
C = np.array([1.0, 2.0, 3.0])
X = np.array([-3.0, 0.5, 1000.0])
M = np.arange(6.0).reshape(2, 3)


def graph_a():
    # softplus(x) * exp(c) + sum(m): two leaves of different types and a constant the optimizer folds
    x, m = pt.dvector("x"), pt.dmatrix("m")
    return et.function([x, m], pt.log(1 + pt.exp(x)) * pt.exp(pt.constant(C)) + m.sum(), mode=MODE), (X, M), \
        np.logaddexp(0, X) * np.exp(C) + M.sum()


def graph_b():
    x = pt.dvector("x")
    return et.function([x], pt.log(1 + pt.exp(-x)) * 2.0, mode=MODE), (X,), np.logaddexp(0, -X) * 2.0


GRAPHS = {"a": graph_a, "b": graph_b}


def run(name):
    f, args, want = GRAPHS[name]()
    r = f.optimization_report()
    return {"graph": name, "cached": r.cached, "damaged": r.cache_damaged, "note": r.cache_note,
            "ok": bool(np.allclose(f(*args), want, rtol=1e-12, atol=0))}
"""
exec(GRAPHS_CODE)

#: compile the graphs ``argv[2:]`` with the cache ``argv[1]``; print what happened as JSON
CHILD = GRAPHS_CODE + r"""
import json, os, sys, warnings
from eqtensor import config
config.cache_dir = sys.argv[1]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    runs = [run(name) for name in sys.argv[2:]]
print(json.dumps({"runs": runs, "euid": os.geteuid(),
                  "warnings": [str(w.message) for w in caught if "optimizer cache" in str(w.message)]}))
"""


@pytest.fixture
def cache(tmp_path):
    opt_cache.clear_memory()
    with config.change_flags(cache_dir=str(tmp_path / "cache"), optimizer_cache=True):
        yield tmp_path / "cache"
    opt_cache.clear_memory()


def _entries(cache_dir):
    return sorted((cache_dir / "optimizer").glob("*.json"))


def _parse(data: bytes):
    head, _, body = data.partition(b"\n")
    return head, json.loads(body)


def _pack(payload, digest=None) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return b"eqtensor-optimizer-recipe 2 sha256=" + (digest or hashlib.sha256(body).hexdigest()).encode() + b"\n" + body


def _valid(path) -> bool:
    k = path.name[:-5]
    try:
        cache_codec.decode_entry(k, path.read_bytes())
        return True
    except cache_codec.Damaged:
        return False


def _golden(cache_dir):
    """Compile graph a (a miss), return its entry file and bytes."""
    r = run("a")
    assert r["cached"] is None and r["ok"] and r["damaged"] == 0
    (entry,) = _entries(cache_dir)
    return entry, entry.read_bytes()


def _steps_index(payload, kind, name=None):
    return [i for i, s in enumerate(payload["steps"]) if s[0] == kind and (name is None or s[1] == name)]


def _damage(kind, entry, good, tmp):
    head, p = _parse(good)
    if kind == "op-renamed":  # softplus -> exp: a well-typed graph, but the checksum no longer matches
        p["steps"][_steps_index(p, "op", "softplus")[0]][1] = "exp"
        entry.write_bytes(_pack(p, digest=head.split(b"=")[1].decode()))
    elif kind == "op-unknown-rehashed":
        p["steps"][_steps_index(p, "op", "softplus")[0]][1] = "softplux"
        entry.write_bytes(_pack(p))
    elif kind in ("leaves-swapped", "leaves-swapped-rehashed"):
        a, b = _steps_index(p, "leaf")[:2]
        p["steps"][a][1], p["steps"][b][1] = p["steps"][b][1], p["steps"][a][1]
        entry.write_bytes(_pack(p, digest=None if kind.endswith("rehashed") else head.split(b"=")[1].decode()))
    elif kind == "leaf-out-of-range-rehashed":
        p["steps"][_steps_index(p, "leaf")[0]][1] = 17
        entry.write_bytes(_pack(p))
    elif kind == "input-forward-rehashed":  # an op reading a step that comes after it
        i = _steps_index(p, "op", "softplus")[0]
        p["steps"][i][3] = [len(p["steps"]) - 1]
        entry.write_bytes(_pack(p))
    elif kind == "output-type-rehashed":  # the output points at sum(m): a scalar for a vector output
        p["outputs"] = [_steps_index(p, "op", "sum")[0]]
        entry.write_bytes(_pack(p))
    elif kind == "constant-bytes-rehashed":
        i = _steps_index(p, "const")[0]
        p["steps"][i][3] = base64.b64encode(b"\0" * 7).decode()
        entry.write_bytes(_pack(p))
    elif kind == "param-tag-rehashed":
        i = _steps_index(p, "op", "sum")[0]
        p["steps"][i][2][0][1] = {"eval": "__import__('os')"}
        entry.write_bytes(_pack(p))
    elif kind == "not-json-rehashed":
        body = b'{"key": "' + p["key"].encode() + b'", "steps": [['
        entry.write_bytes(b"eqtensor-optimizer-recipe 2 sha256=" + hashlib.sha256(body).hexdigest().encode() + b"\n"
                          + body)
    elif kind == "truncated":
        entry.write_bytes(good[: len(good) * 2 // 3])
    elif kind == "header-only":
        entry.write_bytes(head + b"\n")
    elif kind == "garbage":
        entry.write_bytes(os.urandom(len(good)))
    elif kind == "empty":
        entry.write_bytes(b"")
    elif kind == "wrong-checksum":
        entry.write_bytes(good.replace(head, b"eqtensor-optimizer-recipe 2 sha256=" + b"0" * 64))
    elif kind == "a-pickle":  # what older versions stored: never unpickled
        import pickle

        entry.write_bytes(pickle.dumps(((p["steps"], p["outputs"]), {})))
    elif kind == "another-graphs-entry":  # a valid entry (right checksum) of graph b under a's key
        run("b")
        other = next(e for e in _entries(entry.parent.parent) if e != entry)
        shutil.copy(other, entry)
    elif kind == "symlink":  # to a valid copy elsewhere: not followed
        copy = tmp / "elsewhere.json"
        copy.write_bytes(good)
        entry.unlink()
        entry.symlink_to(copy)
    elif kind == "fifo":  # reading it would block forever
        entry.unlink()
        os.mkfifo(entry)
    elif kind == "directory":
        entry.unlink()
        entry.mkdir()
        (entry / "x").write_bytes(good)
    else:
        raise AssertionError(kind)


#: damage kind -> what the report's note says
DAMAGE = {
    "op-renamed": "checksum mismatch", "op-unknown-rehashed": "unknown op 'softplux'",
    "leaves-swapped": "checksum mismatch", "leaves-swapped-rehashed": "does not replay",
    "leaf-out-of-range-rehashed": "leaf index 17 out of range", "input-forward-rehashed": "out of range",
    "output-type-rehashed": "an output of type", "constant-bytes-rehashed": "constant bytes",
    "param-tag-rehashed": "malformed value", "not-json-rehashed": "unparsable", "truncated": "checksum mismatch",
    "header-only": "checksum mismatch", "garbage": "header", "empty": "header", "wrong-checksum": "checksum mismatch",
    "a-pickle": "header", "another-graphs-entry": "stored under another key", "symlink": "symbolic link",
    "fifo": "not a regular file", "directory": "not a regular file",
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_damaged_entry_is_removed_recomputed_and_never_replayed(cache, tmp_path, kind):
    entry, good = _golden(cache)
    _damage(kind, entry, good, tmp_path)
    opt_cache.clear_memory()
    r = run("a")
    assert r["ok"], "wrong values: a damaged recipe was replayed"
    assert r["cached"] is None and r["damaged"] == 1, r
    assert DAMAGE[kind] in r["note"] and "removed and recomputed" in r["note"], r["note"]
    # the entry was replaced by the new run's (valid) one, which serves the next process
    assert entry.is_file() and not entry.is_symlink() and _valid(entry)
    assert _parse(entry.read_bytes())[1]["steps"] == _parse(good)[1]["steps"]
    opt_cache.clear_memory()
    again = run("a")
    assert again == {**r, "cached": "disk", "damaged": 0, "note": None}


def test_a_damaged_entry_in_memory_form_is_not_replayed_either(cache):
    """The type checks run on every replay, also of an entry decoded earlier and kept in memory."""
    entry, good = _golden(cache)
    _, p = _parse(good)
    p["outputs"] = [_steps_index(p, "op", "sum")[0]]
    entry.write_bytes(_pack(p))
    opt_cache.clear_memory()
    k = entry.name[:-5]
    assert opt_cache.lookup(k)[1] == "disk"  # decodes fine: only a replay shows the wrong output type
    r = run("a")
    assert r["ok"] and r["cached"] is None and r["damaged"] == 1 and "an output of type" in r["note"]


def test_entries_of_another_user_are_not_loaded(cache):
    entry, good = _golden(cache)
    os.chown(entry, 65534, 65534)
    opt_cache.clear_memory()
    r = run("a")
    assert r["ok"] and r["cached"] is None and r["damaged"] == 0
    assert "belongs to another user (uid 65534): not loaded" in r["note"]
    assert entry.stat().st_uid == os.geteuid() and _valid(entry)  # replaced by our own run
    assert _parse(entry.read_bytes())[1]["steps"] == _parse(good)[1]["steps"]
    opt_cache.clear_memory()
    assert run("a")["cached"] == "disk"


def test_cache_directories_are_created_owner_only(tmp_path):
    cache_dir = tmp_path / "new" / "deeper" / "cache"
    opt_cache.clear_memory()
    with config.change_flags(cache_dir=str(cache_dir), optimizer_cache=True):
        run("a")
    for d in (tmp_path / "new", tmp_path / "new" / "deeper", cache_dir, cache_dir / "optimizer"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    (entry,) = _entries(cache_dir)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


def test_an_optimizer_directory_open_to_others_is_tightened(cache):
    entry, _ = _golden(cache)
    os.chmod(cache / "optimizer", 0o777)
    opt_cache.clear_memory()
    r = run("a")
    assert r["ok"] and r["cached"] == "disk" and r["note"] is None
    assert stat.S_IMODE((cache / "optimizer").stat().st_mode) == 0o700


def test_an_optimizer_directory_of_another_user_is_not_used(cache, recwarn):
    entry, good = _golden(cache)
    os.chown(cache / "optimizer", 65534, 65534)
    opt_cache.clear_memory()
    runs = [run("a"), run("b"), run("b")]
    assert all(r["ok"] for r in runs)
    assert runs[0]["cached"] is None and "belongs to another user (uid 65534)" in runs[0]["note"]
    assert runs[2]["cached"] == "memory"
    assert [str(w.message) for w in recwarn if "optimizer cache" in str(w.message)] == [
        f"eqtensor: optimizer cache {str(cache)!r} unusable ({cache / 'optimizer'} belongs to another user (uid "
        "65534)); keeping optimization results in memory only for this process"]
    assert _entries(cache) == [entry] and entry.read_bytes() == good  # left alone


def test_a_cache_below_a_file_falls_back_to_memory_with_one_warning(tmp_path, recwarn):
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    opt_cache.clear_memory()
    with config.change_flags(cache_dir=str(afile / "cache"), optimizer_cache=True):
        runs = [run("a"), run("b"), run("a")]
    assert all(r["ok"] for r in runs) and [r["cached"] for r in runs] == [None, None, "memory"]
    assert "optimizer cache not used" in runs[0]["note"]
    cache_warnings = [str(w.message) for w in recwarn if "optimizer cache" in str(w.message)]
    assert len(cache_warnings) == 1 and "memory only" in cache_warnings[0]


def test_a_vanished_cache_directory(cache, monkeypatch, recwarn):
    """Removed between compiles: created again. Vanishing while an entry is written: one warning."""
    run("a")
    shutil.rmtree(cache)
    assert run("b")["cached"] is None
    assert len(_entries(cache)) == 1 and stat.S_IMODE(cache.stat().st_mode) == 0o700
    real = tempfile.mkstemp

    def vanish(*args, **kwargs):
        shutil.rmtree(cache)
        return real(*args, **kwargs)

    monkeypatch.setattr(cache_files.tempfile, "mkstemp", vanish)
    opt_cache.clear_memory()
    runs = [run("a"), run("b")]
    assert all(r["ok"] and r["cached"] is None for r in runs)
    cache_warnings = [str(w.message) for w in recwarn if "optimizer cache" in str(w.message)]
    assert len(cache_warnings) == 1 and "cannot write to it" in cache_warnings[0]
    assert run("a")["cached"] == "memory"


def test_what_is_not_json_is_not_cached_on_disk(cache):
    """Encoding keeps exact types; a value it cannot encode keeps the recipe in memory only."""
    for v in [None, True, 3, -2**70, 0.1, float("nan"), -0.0, "s", (1, ("slice", None, 2)), [1, 2],
              frozenset({1, 2}), b"\x00\xff", slice(1, None, -1), np.int64(5), np.float32(0.5), np.bool_(True),
              np.dtype("float32"), {"a": (1,)}]:
        back = cache_codec.decode_value(json.loads(json.dumps(cache_codec.encode_value(v))))
        assert type(back) is type(v) and (back == v or (v != v and back != back)), v
        if isinstance(v, float):
            assert np.copysign(1, back) == np.copysign(1, v)
    for v in [object(), 1j, np.float128(1) if hasattr(np, "float128") else object(), {1, 2}]:
        with pytest.raises(cache_codec.Uncacheable):
            cache_codec.encode_value(v)
    k = "0" * 64
    opt_cache.store(k, (([("leaf", 0), ("op", "exp", {}, (0,))], [1]), {"stop_reason": object()}))
    assert opt_cache.lookup(k)[1] == "memory" and not _entries(cache)


# --- as an unprivileged user: read-only and foreign cache directories --------------------------------


def _child(cache_dir, graphs, user=None):
    prefix, kwargs, env = (), {}, child_env()
    if user is not None:
        prefix, kwargs, env = user.prefix, user.popen_kwargs, child_env(HOME=user.home)
    p = subprocess.run([*prefix, sys.executable, "-c", CHILD, str(cache_dir), *graphs], env=env,
                       cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=120, **kwargs)
    assert p.returncode == 0, p.stderr[-4000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_read_only_and_foreign_cache_directories(unprivileged):
    u = unprivileged
    base = tempfile.mkdtemp(prefix="ro-", dir=u.base)
    os.chmod(base, 0o755)
    golden = os.path.join(base, "golden")
    g = _child(golden, ["a"])  # as ourselves: a valid entry of graph a
    assert g["runs"][0]["cached"] is None and not g["warnings"]
    # populated: the user's own read-only cache holding a's entry; readonly: the user's own, empty,
    # read-only; others: a directory of root's the user cannot write; below-file: under a regular file
    populated = os.path.join(base, "populated")
    shutil.copytree(golden, populated)
    chown_tree(populated, u.uid, u.gid)
    readonly = os.path.join(base, "readonly")
    os.mkdir(readonly)
    os.chown(readonly, u.uid, u.gid)
    others = os.path.join(base, "others")
    os.mkdir(others, 0o755)
    if u.uid == os.geteuid():
        os.chmod(others, 0o555)
    afile = os.path.join(base, "afile")
    with open(afile, "w") as fh:
        fh.write("a file")
    for d in (os.path.join(populated, "optimizer"), populated, readonly):
        os.chmod(d, 0o500)
    try:
        results = {name: _child(path, ["a", "b", "b", "a"], u) for name, path in
                   [("populated", populated), ("readonly", readonly), ("others", others),
                    ("below-file", os.path.join(afile, "cache"))]}
    finally:
        for d in (populated, os.path.join(populated, "optimizer"), readonly):
            os.chmod(d, 0o700)
    for name, r in results.items():
        assert r["euid"] == u.uid and u.uid != 0, "the child must not run as root"
        assert all(run["ok"] and run["damaged"] == 0 for run in r["runs"]), (name, r)
        assert len(r["warnings"]) == 1 and "memory only" in r["warnings"][0], (name, r["warnings"])
        assert [run["cached"] for run in r["runs"]][2:] == ["memory", "memory"], (name, r)
    # the valid entry of the user's read-only cache is still used; nothing was written anywhere
    assert [run["cached"] for run in results["populated"]["runs"]] == ["disk", None, "memory", "memory"]
    assert "not writable" in results["populated"]["runs"][1]["note"]
    assert [run["cached"] for run in results["readonly"]["runs"]][:2] == [None, None]
    assert os.listdir(readonly) == [] and os.listdir(others) == []
    assert sorted(os.listdir(os.path.join(populated, "optimizer"))) == sorted(os.listdir(os.path.join(golden, "optimizer")))


def test_random_damage_never_raises_and_is_never_half_used(cache, rng):
    """Random edits of a valid payload, with the checksum rewritten to match (as if a bug had written
    them): reading and replaying either fails as damage or rebuilds a graph; nothing else escapes."""
    entry, good = _golden(cache)
    k = entry.name[:-5]
    _, payload = _parse(good)
    leaves = cache_key.leaves_and_nodes(graph_a()[0].maker.fgraph.outputs)[0]  # a graph of the same structure
    junk = [None, True, -1, 2**64, 0.5, "", "x", [], {}, [[]], {"t": 1}, {"f": "zz"}, {"d": [[[], 1]]},
            {"n": ["int8", 300]}, {"it": [[["a"], 1]]}, {"s": [1]}, {"b": "!"}, [["axis", 1]]]

    def paths(v, here=()):
        yield here
        if isinstance(v, list):
            for i, x in enumerate(v):
                yield from paths(x, here + (i,))
        elif isinstance(v, dict):
            for key, x in v.items():
                yield from paths(x, here + (key,))

    spots = [p for p in paths(payload) if p]
    outcomes = set()
    for _ in range(400):
        p = json.loads(json.dumps(payload))
        spot = spots[int(rng.integers(len(spots)))]
        holder = p
        for step in spot[:-1]:
            holder = holder[step]
        holder[spot[-1]] = junk[int(rng.integers(len(junk)))]
        entry.write_bytes(_pack(p))
        opt_cache.clear_memory()
        got, where = opt_cache.lookup(k)
        if got is None:
            outcomes.add("damaged on read")
            assert opt_cache.last_lookup()[0] == 1 and not entry.exists()
            continue
        try:
            opt_cache.replay(got, leaves)
            outcomes.add("replayed")
        except cache_codec.Damaged:
            outcomes.add("damaged on replay")
            assert opt_cache.last_lookup()[0] == 1 and not entry.exists()
    assert "damaged on read" in outcomes
