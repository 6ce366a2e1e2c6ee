"""Gate on the segmentation: every scored customer in exactly one segment, within the limits on
segments per category and their size, for each month the run built.
"""

import datetime as dt

import dagster as dg
import duckdb

from ml.segmentation import SegmentationConfig
from orchestration.assets.monthly import output_key, run_months
from orchestration.assets.sources import WAREHOUSE_POOL
from orchestration.resources import WarehouseResource


@dg.asset_check(
    asset=output_key("customer_segments"),
    blocking=True,
    pool=WAREHOUSE_POOL,  # reads DuckDB: waits while a step writes it
    description=(
        "Every customer scored this month sits in exactly one segment, and each category has at "
        "most 7 segments, none under 5 % of the category."
    ),
)
def segments_cover_customers_within_limits(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    config = SegmentationConfig()
    per_month = {}
    with warehouse.connect(read_only=True) as con:
        for month in run_months(context, con):
            per_month[str(month)] = _segment_coverage(con, month, config)
    passed = all(result.pop("passed") for result in per_month.values())
    newest = per_month[max(per_month)]
    metadata = {"as_of_month": max(per_month), **newest}
    if len(per_month) > 1:
        metadata["per_month"] = dg.MetadataValue.json(
            {m: {k: v for k, v in r.items() if isinstance(v, int)} for m, r in per_month.items()}
        )
    return dg.AssetCheckResult(passed=passed, metadata=metadata)


def _segment_coverage(con: duckdb.DuckDBPyConnection, month: dt.date, config) -> dict:
    scored, segmented, distinct, missing = con.execute(
        "select (select count(*) from marts.customer_factor_scores where as_of_month = ?), "
        "count(*), count(distinct customer_id), "
        "(select count(*) from marts.customer_factor_scores s where as_of_month = ? and "
        " not exists (select 1 from outputs.customer_segments o where o.as_of_month = ? "
        " and o.customer_id = s.customer_id)) "
        "from outputs.customer_segments where as_of_month = ?",
        [month, month, month, month],
    ).fetchone()
    limits = con.execute(
        "select level1_category, count(*) as segments, min(share) as smallest_share "
        "from outputs.segment_profiles where as_of_month = ? group by 1 order by 1",
        [month],
    ).df()
    too_many = limits.loc[limits["segments"] > config.max_clusters, "level1_category"].tolist()
    too_small = limits.loc[
        limits["smallest_share"] < config.min_cluster_share - 1e-9, "level1_category"
    ].tolist()
    return {
        "passed": scored == segmented == distinct
        and missing == 0
        and not too_many
        and not too_small,
        "scored_customers": int(scored),
        "segment_rows": int(segmented),
        "distinct_customers": int(distinct),
        "scored_without_segment": int(missing),
        "categories_over_7_segments": dg.MetadataValue.json(too_many),
        "categories_with_segment_under_5pct": dg.MetadataValue.json(too_small),
    }
