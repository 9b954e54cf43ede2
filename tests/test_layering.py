"""The import direction between the four packages: composer -> training -> models, and
scraper alone. A newcomer reads the pipeline in the folder names; this keeps it true."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {"composer": {"composer", "training", "models", "scraper"},
           "training": {"training", "models"},
           "models": {"models"},
           "scraper": {"scraper"}}


def imported_packages(path: Path) -> set[str]:
    """Top-level names imported anywhere in the file (inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_packages_import_only_downstream():
    wrong = []
    for package, allowed in ALLOWED.items():
        files = sorted((ROOT / package).rglob("*.py"))
        assert files, package
        for path in files:
            for name in imported_packages(path) & set(ALLOWED) - allowed:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    from composer.player import Player\n")
    assert "composer" in imported_packages(sample)
