"""Imports run one way: powerseg (core) and simulator < ml < orchestration < powerseg_cli. Every
import of every module counts, function-level ones too, so a hidden import cannot turn it round."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# A package may import its own layer and those below it.
LAYERS = {"powerseg": 0, "simulator": 0, "ml": 1, "orchestration": 2, "powerseg_cli": 3}


def imported_packages(source: str) -> set[str]:
    """The top-level packages a module imports, wherever in the module the import is."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def upward_imports() -> list[str]:
    wrong = []
    for package, layer in LAYERS.items():
        for path in sorted((REPO / package).rglob("*.py")):
            for imported in sorted(imported_packages(path.read_text()) & LAYERS.keys()):
                if LAYERS[imported] > layer:
                    wrong.append(f"{path.relative_to(REPO)} imports {imported}")
    return wrong


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports() == []


def test_a_function_level_import_counts():
    hidden = "def run():\n    from orchestration.definitions import defs\n    import ml.factors\n"
    assert imported_packages(hidden) == {"orchestration", "ml"}


def test_every_layer_has_modules():
    assert all(list((REPO / package).rglob("*.py")) for package in LAYERS)
