"""The code location loads, and its lineage reads sources -> staging -> intermediate -> marts."""

import json

import dagster as dg

from orchestration.definitions import defs
from orchestration.resources import dbt_project
from powerseg.contract import TABLE_NAMES


def _asset_groups():
    graph = defs.resolve_asset_graph()
    return {key: graph.get(key).group_name for key in graph.get_all_asset_keys()}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("monthly_refresh") is not None
    schedule = defs.resolve_schedule_def("monthly_refresh_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_every_raw_table_is_an_asset_in_sources():
    groups = _asset_groups()
    for table in TABLE_NAMES:
        assert groups[dg.AssetKey(["raw", table])] == "sources"


def test_every_dbt_model_is_an_asset_grouped_by_layer():
    manifest = json.loads(dbt_project.manifest_path.read_text())
    groups = _asset_groups()
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) >= 11 + 7  # a staging model per raw table, the six marts and the outcomes
    expected = {
        "staging": "staging",
        "quarantine": "staging",
        "intermediate": "intermediate",
        "marts": "marts",
        "scores": "factor_models",  # joins the factor scores, after the models
    }
    for node in models:
        key = dg.AssetKey([node["schema"], node["name"]])
        assert key in groups, f"dbt model {node['name']} is not an asset"
        assert groups[key] == expected[node["fqn"][1]], node["name"]


def test_dbt_tests_are_asset_checks():
    check_keys = list(defs.resolve_asset_graph().asset_check_keys)
    assert len(check_keys) > 20
    names = {k.name for k in check_keys}
    assert any(name.startswith("unique") for name in names)


def test_staging_depends_on_raw_and_marts_on_staging():
    graph = defs.resolve_asset_graph()
    stg = dg.AssetKey(["staging", "stg_raw__customers"])
    assert dg.AssetKey(["raw", "customers"]) in graph.get(stg).parent_keys
    upstream = graph.upstream_key_iterator(dg.AssetKey(["marts", "fct_features_arrears"]))
    assert stg in set(upstream)


LINEAGE_GROUPS = [
    "sources",
    "staging",
    "intermediate",
    "marts",
    "factor_models",
    "segmentation",
    "labels",
    "service",
    "reports",
]


def test_every_asset_has_a_group_description_owner_and_kind():
    graph = defs.resolve_asset_graph()
    nodes = [graph.get(k) for k in graph.materializable_asset_keys]
    assert set(LINEAGE_GROUPS) <= {n.group_name for n in nodes}
    bare = [
        n.key.to_user_string()
        for n in nodes
        if not (n.description or "").strip() or not n.owners or not n.kinds
    ]
    assert not bare, bare


def test_lineage_reads_from_raw_tables_to_service_actions():
    graph = defs.resolve_asset_graph()
    actions = dg.AssetKey(["outputs", "customer_service_actions"])
    upstream_groups = {graph.get(k).group_name for k in graph.upstream_key_iterator(actions)}
    assert set(LINEAGE_GROUPS[:-1]) - {"service"} <= upstream_groups
    report = dg.AssetKey(["reports", "segment_report"])
    assert graph.get(report).group_name == "reports"
    assert actions in set(graph.upstream_key_iterator(dg.AssetKey(["reports", "exports"])))


def test_every_step_that_opens_the_warehouse_waits_for_its_pool():
    """Steps in processes of their own (Dagster in PostgreSQL) must not open DuckDB while another
    writes it: the one-slot warehouse pool orders every step that has the resource."""
    unpooled = [
        assets_def.node_def.name
        for assets_def in defs.get_repository_def().asset_graph.assets_defs
        if assets_def.is_executable
        and "warehouse" in assets_def.required_resource_keys
        and assets_def.node_def.pool != "warehouse"
    ]
    assert unpooled == []


def test_steps_run_in_the_run_process_locally_and_in_processes_of_their_own_with_postgres():
    from orchestration.definitions import run_executor
    from powerseg.settings import Settings

    local = Settings.from_env({"POWERSEG_DATA_DIR": "/tmp/x"})
    assert run_executor(local) is dg.in_process_executor
    with_postgres = {"POWERSEG_DATA_DIR": "/tmp/x", "POWERSEG_DAGSTER_PG_URL": "postgresql://h/d"}
    assert run_executor(Settings.from_env(with_postgres)).name == "step_processes"
