"""docs/optimizer.md lists every stability rule, with its formula and why, generated from the rule set."""

from __future__ import annotations

import re
from pathlib import Path

from eqtensor.printing import pprint
from eqtensor.rules import stability

DOC = Path(__file__).resolve().parents[1] / "docs" / "optimizer.md"


def _section() -> str:
    text = DOC.read_text()
    start = text.index("## Stability rules")
    return text[start:text.index("\n## ", start + 1)]


def doc_line(rule) -> str:
    """The line docs/optimizer.md has for ``rule``."""
    return f"- `{rule.name}`: `{pprint(rule.pattern)}` → `{pprint(rule.replacement)}`. {rule.why}"


def test_every_stability_rule_is_documented_with_its_why():
    section = _section()
    missing = [doc_line(r) for r in stability() if doc_line(r) not in section.splitlines()]
    assert not missing, "docs/optimizer.md (## Stability rules) lacks or has stale lines; expected:\n" + "\n".join(missing)


def test_the_documented_rules_exist():
    listed = re.findall(r"^- `(\w+)`: ", _section(), flags=re.M)
    assert sorted(listed) == sorted(stability().names())
