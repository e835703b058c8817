"""Dependencies point one way (DESIGN.md): shelters imports neither placement, alerts nor reports, and the
models of accounts and shelters know each other only by name (for type checkers), never at run time."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _imports(path: Path, *, runtime_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(n) for n in ast.walk(node)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
    return names


def test_shelters_imports_no_domain_that_reads_it():
    for path in sorted((ROOT / "shelters").glob("*.py")):
        assert not _imports(path) & {"placement", "alerts", "reports"}, path.name


def test_the_models_of_accounts_and_shelters_do_not_import_each_other_at_run_time():
    assert "shelters" not in _imports(ROOT / "accounts" / "models.py", runtime_only=True)
    assert "accounts" not in _imports(ROOT / "shelters" / "models.py", runtime_only=True)


def test_placement_pages_share_the_serialisation_module_not_the_api():
    assert "placement.api" not in (ROOT / "placement" / "views.py").read_text()
