import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None)
settings.load_profile("ci")


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory):
    """The suite compiles into a cache of its own (C modules and optimizer recipes), not the user's."""
    from eqtensor import config

    with config.change_flags(cache_dir=str(tmp_path_factory.mktemp("eqtensor-cache"))):
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# --- child processes, as this user or as an unprivileged one (the cache tests) -----------------------
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child_env(**extra):
    """The environment of a child interpreter importing this checkout (no user cache directory)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONDONTWRITEBYTECODE="1")
    env.pop("EQTENSOR_CACHE_DIR", None)
    env.update(extra)
    return env


def chown_tree(path, uid, gid):
    """Give ``path`` and everything under it (symbolic links themselves) to ``uid:gid``."""
    for d, _, files in os.walk(path):
        os.chown(d, uid, gid)
        for name in files:
            os.lchown(os.path.join(d, name), uid, gid)


@pytest.fixture(scope="session")
def unprivileged():
    """How to run a child as a user to whom permission bits apply (root ignores them): the current
    user unless it is root, else ``nobody`` (through ``setpriv`` with read access to everything when
    the interpreter lives where ``nobody`` cannot read, e.g. under ``/root``). A namespace: ``uid``,
    ``gid``, ``prefix`` (the command prefix), ``popen_kwargs``, ``base`` (a scratch directory it can
    reach), ``home``. Skips when there is no such user."""
    if os.geteuid() != 0:
        base = tempfile.mkdtemp(prefix="eqtensor-perm-")
        yield SimpleNamespace(uid=os.geteuid(), gid=os.getegid(), prefix=(), popen_kwargs={}, base=base,
                              home=os.environ.get("HOME", base))
        shutil.rmtree(base, ignore_errors=True)
        return
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("permission checks need a non-root user: running as root and there is no user 'nobody'")
    base = tempfile.mkdtemp(prefix="eqtensor-perm-")
    os.chmod(base, 0o755)
    home = os.path.join(base, "home")
    os.mkdir(home)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    ids = ["--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid), "--clear-groups"]
    candidates = [((), dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[]))]
    if shutil.which("setpriv"):
        read_all = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        candidates.append(((shutil.which("setpriv"), *ids, *read_all, "--"), {}))
    probe = ("import os, sysconfig, numpy, cffi, eqtensor, egglog.bindings\n"  # the C headers too
             "open(os.path.join(sysconfig.get_paths()['include'], 'Python.h')).close()\n"
             "open(os.path.join(numpy.get_include(), 'numpy', 'arrayobject.h')).close()\n"
             "print(os.geteuid())\n")
    user = None
    for prefix, kwargs in candidates:
        try:
            r = subprocess.run([*prefix, sys.executable, "-c", probe], env=child_env(HOME=home), cwd=base,
                               capture_output=True, text=True, timeout=60, **kwargs)
        except OSError:
            continue
        if r.returncode == 0 and r.stdout.split() == [str(pw.pw_uid)]:
            user = SimpleNamespace(uid=pw.pw_uid, gid=pw.pw_gid, prefix=prefix, popen_kwargs=kwargs, base=base,
                                   home=home)
            break
    if user is None:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip("user 'nobody' cannot run this interpreter (and setpriv is not available)")
    yield user
    shutil.rmtree(base, ignore_errors=True)
