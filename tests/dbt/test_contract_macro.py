"""The dbt files generated from the source contract are committed in sync with it."""

import importlib.util

from .conftest import DBT_DIR


def test_generated_contract_files_match_the_contract():
    spec = importlib.util.spec_from_file_location(
        "render_contract_macro", DBT_DIR / "scripts" / "render_contract_macro.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path, render in module.OUTPUTS.items():
        assert path.read_text() == render(), (
            f"{path} is stale: run python dbt_project/scripts/render_contract_macro.py"
        )
