from powerseg import contract_docs
from powerseg.contract import PII_COLUMNS, TABLES


def test_generated_contract_files_are_up_to_date():
    for path, text in contract_docs.outputs().items():
        assert path.read_text() == text, (
            f"{path} drifted from powerseg/contract.py; run `make contract`"
        )


def test_contract_covers_the_eleven_spec_tables():
    assert set(TABLES) == {
        "customers",
        "meter_reads_daily",
        "meter_events",
        "bills",
        "payments",
        "supply_topology",
        "outages",
        "work_orders",
        "channel_interactions",
        "inspections",
        "satisfaction_surveys",
    }
    assert set(PII_COLUMNS) == {"name", "id_number", "phone", "address"}
    for table in TABLES.values():
        assert set(table.key) <= set(table.column_names), table.name
