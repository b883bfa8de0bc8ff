"""Every ```python block of every ``docs/*.md`` page (and the README) runs, in order, sharing one namespace per page.

Blocks written as an interactive session (lines starting with ``>>>``) are checked like doctests:
the printed results must match. A block whose first line is ``# no-test`` is skipped.
"""

import doctest
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def python_blocks(text: str):
    """``(line_number, source)`` of each ```python fenced block of a markdown text."""
    for m in _BLOCK.finditer(text):
        yield text.count("\n", 0, m.start(1)) + 1, m.group(1)


def run_page(path: Path) -> int:
    """Run the page's blocks; returns how many ran. Raises AssertionError naming the failing block."""
    ns: dict = {"__name__": f"docs_{path.stem}"}
    parser = doctest.DocTestParser()
    ran = 0
    for line, src in python_blocks(path.read_text()):
        if src.lstrip().startswith("# no-test"):
            continue
        where = f"{path.name}, block at line {line}"
        if src.lstrip().startswith(">>>"):
            test = parser.get_doctest(src, ns, where, str(path), line - 1)
            out = []
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            result = runner.run(test, out=out.append, clear_globs=False)
            assert result.failed == 0, f"{where} failed:\n" + "".join(out)
            ns.update(test.globs)
        else:
            exec(compile(src, where, "exec"), ns)
        ran += 1
    return ran


PAGES = sorted(DOCS.glob("*.md")) + [DOCS.parent / "README.md"]


def test_docs_pages_exist():
    names = {p.name for p in PAGES}
    assert {"getting-started.md", "tutorial.md", "architecture.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_docs_page_runs(page):
    run_page(page)


def test_block_extraction_and_failure_reporting(tmp_path):
    page = tmp_path / "x.md"
    page.write_text(
        "intro\n```python\nv = 2\n```\n\n```bash\nexit 1\n```\n"
        "```python\n# no-test\nraise SystemExit\n```\n"
        "```python\n>>> v * 3\n6\n```\n"
    )
    assert [ln for ln, _ in python_blocks(page.read_text())] == [3, 10, 14]
    assert run_page(page) == 2
    page.write_text("```python\n>>> 1 + 1\n3\n```\n")
    with pytest.raises(AssertionError, match="x.md, block at line 2 failed"):
        run_page(page)
    page.write_text("```python\nassert False, 'boom'\n```\n")
    with pytest.raises(AssertionError, match="boom"):
        run_page(page)


def test_demo_runs():
    """``python -m eqtensor`` (the README's main command) exits 0 and shows graphs, timings and errors."""
    import subprocess
    import sys

    root = DOCS.parent
    proc = subprocess.run([sys.executable, "-m", "eqtensor"], cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for text in ["graph before optimization", "graph after optimization", "← update of w", "optimization report",
                 "NumPy eager", "naive softplus", "w = [1. 2. 3. 4. 5.]", "| example | mode | compile ms |"]:
        assert text in out, text
    table = [line.strip("|").split("|") for line in out.split("| example |")[1].splitlines()[2:]]
    errors = {(r[0].strip(), r[1].split()[0]): float(r[5]) for r in table}
    assert {name for name, _ in errors} == {"elementwise chain", "naive softplus", "naive logsumexp", "gradient step"}
    assert {mode for _, mode in errors} >= {"FAST_COMPILE", "NUMPY"}
    for (name, mode), err in errors.items():
        if name in ("elementwise chain", "gradient step"):
            assert err < 1e-12, (name, mode, err)
    # unoptimized, the naive formulas overflow; optimized, they are exact to rounding
    assert errors["naive softplus", "FAST_COMPILE"] == float("inf")
    assert errors["naive softplus", "NUMPY"] < 1e-12 and errors["naive logsumexp", "NUMPY"] < 1e-12
