"""The dbt project's vars (`dbt_project.yml`), for Python code that must follow the same rule as the
SQL: the outcome window, the history window. dbt reads them there; Python reads them here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


@cache
def _vars() -> dict:
    return dict(yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"])


def dbt_var(name: str) -> int:
    """An integer var of dbt_project.yml (e.g. `outcome_months`)."""
    return int(_vars()[name])
