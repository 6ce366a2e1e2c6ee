"""Source assets: the landing extract (simulated in the demo, delivered in production) and the raw
tables loaded from it into the warehouse, with the table-level contract enforced on the way in.
"""

from pathlib import Path

import dagster as dg

from orchestration.resources import LandingResource, WarehouseResource
from powerseg.contract import TABLES
from powerseg.landing import load_landing, manifest_extract_id, read_manifest

OWNER = "team:data-engineering"
WAREHOUSE_POOL = "warehouse"


def raw_asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


@dg.asset(
    key=["landing", "extract"],
    group_name="sources",
    kinds={"parquet"},
    owners=[OWNER],
    description=(
        "The source-system extract in the landing folder: one Parquet folder per contract table "
        "and a manifest marking it complete. With POWERSEG_SOURCE=simulator a demo extract is "
        "simulated when the folder holds none; with POWERSEG_SOURCE=landing the utility "
        "delivers it."
    ),
)
def landing_extract(
    context: dg.AssetExecutionContext, landing: LandingResource
) -> dg.MaterializeResult:
    raw_dir = Path(landing.raw_dir)
    manifest = read_manifest(raw_dir)
    produced = False
    if manifest is None:
        if landing.source != "simulator":
            raise dg.Failure(
                description=(
                    f"no complete extract in the landing folder {raw_dir}: the manifest "
                    "_manifest.json is missing (it is written last, once every table has landed)"
                )
            )
        if raw_dir.name != "raw":
            raise dg.Failure(
                description=f"the simulator writes <data>/raw/; {raw_dir} is not named 'raw'"
            )
        from simulator import simulate

        context.log.info(
            "no extract in %s: simulating %d customers x %d months (seed %d)",
            raw_dir,
            landing.sim_customers,
            landing.sim_months,
            landing.sim_seed,
        )
        manifest = simulate(
            raw_dir.parent,
            customers=landing.sim_customers,
            months=landing.sim_months,
            seed=landing.sim_seed,
            end_month=landing.sim_end_month,
            progress=False,
        )
        produced = True
    rows = {t: int(v.get("rows", 0)) for t, v in manifest.get("tables", {}).items()}
    extract_id = manifest_extract_id(manifest)
    return dg.MaterializeResult(
        # The data version changes only when a different extract lands, so the UI tells a new
        # delivery from a re-run on the same one.
        data_version=dg.DataVersion(extract_id),
        metadata={
            "extract_id": extract_id,
            "dagster/row_count": sum(rows.values()),
            "landing_folder": dg.MetadataValue.path(str(raw_dir)),
            "source": landing.source,
            "simulated_now": produced,
            "extract_start": manifest.get("extract_start"),
            "extract_end": manifest.get("extract_end"),
            "rows_by_table": dg.MetadataValue.json(rows),
        },
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            raw_asset_key(t.name),
            deps=[landing_extract],
            group_name="sources",
            kinds={"duckdb"},
            owners=[OWNER],
            description=f"raw.{t.name}: {t.description} Loaded as delivered, plus lineage columns.",
            skippable=True,
        )
        for t in TABLES.values()
    ],
    can_subset=True,
    pool=WAREHOUSE_POOL,
)
def raw_tables(
    context: dg.AssetExecutionContext, landing: LandingResource, warehouse: WarehouseResource
):
    """Load the selected contract tables into raw.<table>, all or nothing."""
    selected = tuple(key.path[-1] for key in context.selected_asset_keys if key.path[-1] in TABLES)
    with warehouse.connect() as con:
        loaded = load_landing(Path(landing.raw_dir), con, tables=selected)
    for table, result in loaded.items():
        if result.is_empty:
            context.log.warning("raw table '%s' is present but empty", table)
        yield dg.MaterializeResult(
            asset_key=raw_asset_key(table),
            metadata={
                "dagster/row_count": result.rows,
                "files": result.files,
                "ignored_columns": ", ".join(result.ignored_columns) or "none",
                "empty": result.is_empty,
            },
        )
