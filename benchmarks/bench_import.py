"""Import time of ``eqtensor`` against NumPy alone, in fresh interpreters.

Each run starts a new ``python`` process. Reported (medians over the runs, in seconds):

- the wall time of ``python -c "import numpy"`` and of ``python -c "import eqtensor"`` (interpreter
  start-up included) and their difference;
- inside the process, the time of ``import eqtensor`` after ``import numpy`` ("beyond NumPy"),
  which excludes the interpreter start-up.

SciPy is not imported by ``import eqtensor`` (it loads when the first node needing it runs): the
last line says which heavy modules an ``import eqtensor`` loaded.

    python benchmarks/bench_import.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_INSIDE = """
import sys, time, json
t0 = time.perf_counter()
import numpy
t1 = time.perf_counter()
import eqtensor
t2 = time.perf_counter()
heavy = sorted(m for m in ("scipy", "scipy.special", "scipy.linalg", "egglog", "cffi", "mpmath") if m in sys.modules)
print(json.dumps({"numpy": t1 - t0, "eqtensor": t2 - t1, "heavy": heavy}))
"""


def _wall(code: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return time.perf_counter() - t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    opts = parser.parse_args(argv)
    _wall("import eqtensor")  # warm the file system cache and __pycache__
    wall_np, wall_et, inside_np, inside_et = [], [], [], []
    heavy = []
    for _ in range(opts.runs):  # interleaved, so that machine load affects both alike
        wall_np.append(_wall("import numpy"))
        wall_et.append(_wall("import eqtensor"))
        out = subprocess.run([sys.executable, "-c", _INSIDE], check=True, cwd=ROOT, capture_output=True, text=True)
        r = json.loads(out.stdout)
        inside_np.append(r["numpy"])
        inside_et.append(r["eqtensor"])
        heavy = r["heavy"]
    med = statistics.median
    print(f"import time, median of {opts.runs} fresh interpreters ({sys.executable})\n")
    print("| measure | median s | min s |")
    print("|---|---:|---:|")
    print(f"| `python -c \"import numpy\"` (wall) | {med(wall_np):.3f} | {min(wall_np):.3f} |")
    print(f"| `python -c \"import eqtensor\"` (wall) | {med(wall_et):.3f} | {min(wall_et):.3f} |")
    print(f"| difference of the wall medians | {med(wall_et) - med(wall_np):.3f} | |")
    print(f"| `import numpy` (in process) | {med(inside_np):.3f} | {min(inside_np):.3f} |")
    print(f"| `import eqtensor` after numpy (in process) | {med(inside_et):.3f} | {min(inside_et):.3f} |")
    print(f"\nloaded by `import eqtensor` among scipy, egglog, cffi, mpmath: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
