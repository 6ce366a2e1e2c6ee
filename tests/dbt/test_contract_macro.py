"""The dbt files generated from the source contract are all rendered by `make contract` (their
freshness is tests/powerseg/test_contract_docs.py's)."""

from powerseg import contract_docs

from .conftest import DBT_DIR

BUILT = {"target", "logs", "dbt_packages"}


def test_every_generated_dbt_file_is_rendered_by_make_contract():
    header = contract_docs.GENERATED
    generated = {
        path
        for path in DBT_DIR.rglob("*")
        if path.suffix in (".sql", ".yml")
        and not BUILT & set(path.relative_to(DBT_DIR).parts)
        and header in path.read_text().partition("\n")[0]
    }
    rendered = {path for path in contract_docs.outputs() if DBT_DIR in path.parents}
    assert generated == rendered
    assert {"contract_tables.sql", "_stg_raw__models.yml", "_raw__sources.yml"} <= {
        path.name for path in rendered
    }
