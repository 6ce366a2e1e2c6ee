"""Source assets: the landing extract (delivered by the utility, or simulated on demand in the demo)
and the raw tables loaded from it into the warehouse, exactly as its manifest lists them.
"""

from pathlib import Path

import dagster as dg

from orchestration.owners import DATA_ENGINEERING
from orchestration.resources import LandingResource, WarehouseResource
from powerseg.contract import TABLES
from powerseg.landing import (
    LandingError,
    extract_status,
    load_landing,
    manifest_extract_id,
    read_manifest,
)

# the owner of the sources, under the name the gates and freshness checks import it by
OWNER = DATA_ENGINEERING
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
        "and a manifest, written last, marking it complete. A folder without a manifest stops "
        "the run with what is there and what is missing, and is never touched. In demo mode "
        "(POWERSEG_SOURCE=simulator, `powerseg run --demo`) an empty landing folder gets a "
        "simulated demo extract first."
    ),
)
def landing_extract(
    context: dg.AssetExecutionContext, landing: LandingResource
) -> dg.MaterializeResult:
    raw_dir = Path(landing.raw_dir)
    try:
        manifest = read_manifest(raw_dir)
    except LandingError as exc:
        raise dg.Failure(description=str(exc)) from exc
    produced = False
    if manifest is None:
        from simulator import demo_refused, simulate

        demo = landing.source == "simulator"
        refused = demo_refused(raw_dir) if demo else "not in demo mode"
        if refused is not None:
            why = f". The demo is not simulated here: {refused}" if demo else ""
            raise dg.Failure(description=extract_status(raw_dir).describe() + why)
        context.log.info(
            "demo mode, empty landing folder %s: simulating %d customers x %d months (seed %d)",
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
            "producer": str(manifest.get("producer", "unknown")),
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
        if result.unlisted_files:
            context.log.warning(
                "raw table '%s': %d file(s) not listed in the manifest ignored: %s",
                table,
                len(result.unlisted_files),
                ", ".join(result.unlisted_files),
            )
        yield dg.MaterializeResult(
            asset_key=raw_asset_key(table),
            metadata={
                "dagster/row_count": result.rows,
                "files": result.files,
                "ignored_columns": ", ".join(result.ignored_columns) or "none",
                "converted_to_local_time": ", ".join(result.converted_columns) or "none",
                # Files in the table's folder the manifest does not list: not loaded.
                "unlisted_files": dg.MetadataValue.json(list(result.unlisted_files)),
                "empty": result.is_empty,
            },
        )
