"""Test modules have unique names across the suites: pytest imports them by basename (rootdir
mode, no packages), so two ``test_x.py`` in two folders stop the whole run at collection."""

from __future__ import annotations

from collections import Counter

from support.procs import ROOT


def test_every_test_module_has_a_name_of_its_own() -> None:
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
