"""Every POWERSEG_* variable is read once, in Settings.from_env: no other module reads one from
the environment, each is checked there, and the README's table lists them all."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from powerseg.settings import Settings, default_duckdb_memory_limit

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("powerseg", "simulator", "ml", "orchestration", "powerseg_cli")
SETTINGS = Path("powerseg/settings.py")
# Not settings: the dbt month variables, set for each dbt invocation by the dbt assets.
NOT_SETTINGS = {Path("orchestration/assets/dbt.py")}
PREFIX = "POWERSEG_"


def _name(node: ast.AST) -> str | None:
    is_name = isinstance(node, ast.Constant) and isinstance(node.value, str)
    return node.value if is_name and node.value.startswith(PREFIX) else None


def environment_reads(source: str) -> list[str]:
    """POWERSEG_* names a module reads from a mapping: `.get(NAME)`, `getenv(NAME)`,
    `env[NAME]` (not an assignment to it) and `NAME in env`."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in {"get", "getenv", "pop", "setdefault"} and _name(node.args[0]):
                names.append(_name(node.args[0]))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if _name(node.slice):
                names.append(_name(node.slice))
        elif (
            isinstance(node, ast.Compare)
            and _name(node.left)
            and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
        ):
            names.append(_name(node.left))
    return names


def modules():
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            yield path.relative_to(REPO)


def test_only_settings_reads_powerseg_variables():
    readers = {
        f"{path}: {', '.join(names)}"
        for path in modules()
        if path != SETTINGS
        and path not in NOT_SETTINGS
        and (names := environment_reads((REPO / path).read_text()))
    }
    assert readers == set()


def test_the_scan_sees_every_way_of_reading():
    source = (
        'import os\nos.environ.get("POWERSEG_A")\nos.getenv("POWERSEG_B")\n'
        'os.environ["POWERSEG_C"]\nif "POWERSEG_D" in os.environ: pass\n'
        'os.environ["POWERSEG_E"] = "written, not read"\n'
    )
    assert environment_reads(source) == ["POWERSEG_A", "POWERSEG_B", "POWERSEG_C", "POWERSEG_D"]


def settings_variables() -> set[str]:
    """Every variable name settings.py spells out (the helpers of from_env take it as a string)."""
    tree = ast.parse((REPO / SETTINGS).read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"POWERSEG_[A-Z_]+", node.value)
    }


def test_every_setting_is_exported_to_child_processes_and_documented():
    names = settings_variables()
    assert {"POWERSEG_SOURCE_TIMEZONE", "POWERSEG_FIRST_AS_OF_MONTH", "POWERSEG_PII_SALT"} <= names
    exported = Settings.from_env(
        {
            "POWERSEG_FRESHNESS_REFERENCE_DATE": "2026-11-05",
            "POWERSEG_FIRST_AS_OF_MONTH": "2025-01",
            "POWERSEG_DAGSTER_PG_URL": "postgresql://u@h/dagster",
        }
    ).export_env()
    assert names <= exported.keys()
    table = set(re.findall(r"^\| `(POWERSEG_\w+)` \|", (REPO / "README.md").read_text(), re.M))
    assert names == table


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("POWERSEG_EXTRACT_MAX_AGE_DAYS", "a month", "must be a whole number of days"),
        ("POWERSEG_OUTPUT_MAX_AGE_DAYS", "3.5", "must be a whole number of days"),
        ("POWERSEG_FIRST_AS_OF_MONTH", "2025-13", "must look like 'YYYY-MM'"),
        ("POWERSEG_FRESHNESS_REFERENCE_DATE", "2026-11", "must be a date as YYYY-MM-DD"),
        ("POWERSEG_DUCKDB_MEMORY_LIMIT", "3GB'; drop", "must be a size"),
        ("POWERSEG_SOURCE_TIMEZONE", "Mars/Olympus", "must be an IANA time zone"),
        ("POWERSEG_MLFLOW_UI_URL", "mlflow:5000", "must be an http(s) URL"),
        ("POWERSEG_DBT_TARGET", "staging", "is not a target of dbt_project/profiles.yml"),
        ("POWERSEG_LOCALE", "fr", "is not a supported locale"),
    ],
)
def test_a_wrong_value_names_its_variable(variable, value, message):
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        Settings.from_env({variable: value})
    assert variable in str(caught.value) and repr(value) in str(caught.value)


def test_defaults_and_typed_values():
    default = Settings.from_env({})
    assert (default.extract_max_age_days, default.output_max_age_days) == (32, 35)
    assert (default.source_timezone, default.duckdb_memory_limit) == (
        "Asia/Shanghai",
        default_duckdb_memory_limit(),
    )
    assert default.freshness_reference_date is None and default.first_as_of_month is None
    chosen = Settings.from_env(
        {
            "POWERSEG_EXTRACT_MAX_AGE_DAYS": " 40 ",
            "POWERSEG_FRESHNESS_REFERENCE_DATE": "2026-11-05",
            "POWERSEG_SOURCE_TIMEZONE": "UTC",
            "POWERSEG_DUCKDB_MEMORY_LIMIT": "512MiB",
        }
    )
    assert chosen.extract_max_age_days == 40
    assert chosen.freshness_reference_date.isoformat() == "2026-11-05"
    assert (chosen.source_timezone, chosen.duckdb_memory_limit) == ("UTC", "512MiB")
    assert "salt" not in repr(chosen)


def test_the_duckdb_memory_limit_follows_the_machine():
    gib = 2**30
    assert default_duckdb_memory_limit(24 * gib) == "4GB"  # capped: 8 GiB for the whole run
    assert default_duckdb_memory_limit(8 * gib) == "2GB"
    assert default_duckdb_memory_limit(2 * gib) == "1GB"
