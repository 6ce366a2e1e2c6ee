"""The dbt files the factor registry generates: `customer_factor_scores.sql` (the factor scores side
by side), its yml (the `scores` sources and the model's columns) and the macro listing the feature
marts. `make contract` rewrites them; a test fails when they are stale.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from ml.registry import REGISTRY, Registry
from powerseg.dbt_vars import DBT_PROJECT_DIR

SCORES_MODEL = Path("models/scores/customer_factor_scores.sql")
SCORES_YML = Path("models/scores/_scores__sources.yml")
REGISTRY_MACRO = Path("macros/factors/factor_registry.sql")
GENERATED = "Generated from the factor registry (ml/registry.py) by `make contract`; do not edit."


LINE = 100  # sqlfluff's and the yml's line length


def _select_column(factor: str, sources: tuple[str, ...], name: str) -> str:
    if len(sources) == 1:
        column = f"{factor}.{sources[0]}"
        return f"    {column}" if sources[0] == name else f"    {column} as {name}"
    line = f"    concat_ws(', ', {', '.join(f'{factor}.{s}' for s in sources)}) as {name}"
    if len(line) <= LINE:
        return line
    wrapped = textwrap.wrap(line.strip(), LINE - 4, break_on_hyphens=False)
    return "    " + "\n        ".join(wrapped)


def render_scores_model(registry: Registry = REGISTRY) -> str:
    first = registry.factors[0].name
    ctes = [
        f"{f.name} as (\n    select * from {{{{ source('scores', '{f.score_table}') }}}}\n)"
        for f in registry
    ]
    ctes.append(
        "customers as (\n    select customer_id, as_of_month, level1_category\n"
        "    from {{ ref('customer_360') }}\n)"
    )
    columns = [
        f"    {first}.customer_id",
        f"    {first}.as_of_month",
        "    customers.level1_category",
        *(_select_column(f.name, p.sources, p.name) for f in registry for p in f.published),
    ]
    joins = [
        f"inner join {f.name}\n    on {first}.customer_id = {f.name}.customer_id\n"
        f"    and {first}.as_of_month = {f.name}.as_of_month"
        for f in registry.factors[1:]
    ]
    joins.append(
        f"left join customers\n    on {first}.customer_id = customers.customer_id\n"
        f"    and {first}.as_of_month = customers.as_of_month"
    )
    return (
        f"-- {GENERATED}\n"
        "-- The factor scores side by side for every scored as-of month, with the level-1 "
        "category.\n"
        "-- Built after the factor-model assets have written scores.<factor>_scores (tag "
        "factor_scores).\n"
        "{{ config(schema='marts', materialized='table') }}\n\n"
        "with\n\n" + ",\n\n".join(ctes) + "\n\n"
        "select\n" + ",\n".join(columns) + "\n"
        f"from {first}\n" + "\n".join(joins) + "\n"
    )


def _description(indent: str, text: str) -> list[str]:
    """`description: ...` on one line when it fits and is plain yml, folded (`>`) otherwise."""
    line = f"{indent}description: {text}"
    plain = ": " not in text and " #" not in text and text[:1] not in "-[{'\"!&*?|>%@`"
    if len(line) <= LINE and plain:
        return [line]
    body = textwrap.wrap(text, LINE - len(indent) - 2, break_on_hyphens=False)
    return [f"{indent}description: >", *(f"{indent}  {part}" for part in body)]


def render_scores_yml(registry: Registry = REGISTRY) -> str:
    lines = [
        f"# {GENERATED}",
        "version: 2",
        "",
        "sources:",
        "  - name: scores",
        "    schema: scores",
        "    description: >",
        "      Per-customer factor scores written by the factor-model assets (one table per factor,"
        " every",
        "      as-of month kept; a re-run replaces only its own month).",
        "    tables:",
    ]
    for f in registry:
        lines += [f"      - name: {f.score_table}", *_description("        ", f.description)]
    lines += [
        "",
        "models:",
        "  - name: customer_factor_scores",
        "    description: >",
        *textwrap.wrap(
            "The factor scores side by side, one row per active customer and scored as-of month, "
            "with the level-1 category from customer_360. Every score is 0-100; higher means more "
            "of what the factor measures (more valuable, more outage-sensitive, riskier).",
            LINE - 6,
            initial_indent="      ",
            subsequent_indent="      ",
        ),
        "    config:",
        '      tags: ["factor_scores"]',
        "    data_tests:",
        "      - unique_combination:",
        "          arguments:",
        "            columns: [customer_id, as_of_month]",
        "    columns:",
        "      - name: customer_id",
        "        description: Account number.",
        "        data_tests: [not_null]",
        "      - name: as_of_month",
        "        description: First day of the scored as-of month.",
        "        data_tests: [not_null]",
        "      - name: level1_category",
        "        description: Level-1 business category by the versioned category rules.",
    ]
    for f in registry:
        for p in f.published:
            lines += [f"      - name: {p.name}", *_description("        ", p.description)]
    return "\n".join(lines) + "\n"


def render_registry_macro(registry: Registry = REGISTRY) -> str:
    """`factor_feature_marts()`: the feature marts, for the tests that hold every mart."""
    marts = "".join(f"    '{f.feature_mart}',\n" for f in registry)
    return (
        f"{{#- {GENERATED} -#}}\n"
        "{#- The feature mart of every factor, in registry order. -#}\n"
        "{% macro factor_feature_marts() %}\n"
        f"{{{{ return([\n{marts}]) }}}}\n"
        "{% endmacro %}\n"
    )


def generated_files(registry: Registry = REGISTRY) -> dict[Path, str]:
    """Each generated file (relative to the dbt project) and the text it must hold."""
    return {
        SCORES_MODEL: render_scores_model(registry),
        SCORES_YML: render_scores_yml(registry),
        REGISTRY_MACRO: render_registry_macro(registry),
    }


def write(dbt_project_dir: Path = DBT_PROJECT_DIR, registry: Registry = REGISTRY) -> list[Path]:
    """Rewrite the generated files that differ; the paths written."""
    written = []
    for relative, text in generated_files(registry).items():
        path = dbt_project_dir / relative
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dbt-project-dir", type=Path, default=DBT_PROJECT_DIR)
    args = parser.parse_args(argv)
    for path in write(args.dbt_project_dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
