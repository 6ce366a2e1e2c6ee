"""Row-by-row comparison of a table built on DuckDB and the same table built on Spark (read from
its lake folder of Parquet files), for the engine-parity test."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from powerseg.engine import lake_table_dir

RELATIVE_TOLERANCE = 1e-6


def lake_frame(lake_dir: Path, schema: str, table: str) -> pd.DataFrame:
    """A Spark table as pandas, read by DuckDB from its Parquet folder (partition folders such as
    as_of_month=2026-10-01 give their column back)."""
    folder = lake_table_dir(lake_dir, schema, table)
    if not folder.is_dir():
        raise AssertionError(f"Spark wrote no folder for {schema}.{table} at {folder}")
    pattern = str(folder / "**" / "*.parquet")
    with duckdb.connect() as con:
        return con.execute(
            f"select * from read_parquet('{pattern}', hive_partitioning = true)"
        ).df()


def _normalised(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column == "as_of_month" or pd.api.types.is_datetime64_any_dtype(values):
            converted = pd.to_datetime(values)
            if getattr(converted.dt, "tz", None) is not None:
                converted = converted.dt.tz_convert("UTC").dt.tz_localize(None)
            out[column] = converted.astype("datetime64[us]")
        elif values.dtype == object and values.map(lambda v: hasattr(v, "isoformat")).any():
            out[column] = pd.to_datetime(values).astype("datetime64[us]")
    return out.sort_values(keys).reset_index(drop=True)


def table_differences(
    duck: pd.DataFrame, spark: pd.DataFrame, table: str, keys: list[str]
) -> list[str]:
    """Every difference between the two builds of `table`, each naming the table, the column and
    the rows (by key): missing or extra columns, row counts, keys on one side only, and values
    that differ (doubles beyond RELATIVE_TOLERANCE, everything else exactly; null equals null)."""
    problems = []
    if set(duck.columns) != set(spark.columns):
        only_duck = sorted(set(duck.columns) - set(spark.columns))
        only_spark = sorted(set(spark.columns) - set(duck.columns))
        problems.append(f"{table}: columns only on DuckDB {only_duck}, only on Spark {only_spark}")
    columns = [c for c in duck.columns if c in spark.columns]
    duck, spark = _normalised(duck[columns], keys), _normalised(spark[columns], keys)
    if len(duck) != len(spark):
        problems.append(f"{table}: {len(duck)} rows on DuckDB, {len(spark)} on Spark")
    merged = duck.merge(spark, on=keys, how="outer", suffixes=("_duckdb", "_spark"), indicator=True)
    one_side = merged[merged["_merge"] != "both"]
    if len(one_side):
        sample = one_side[keys + ["_merge"]].head(5).to_dict("records")
        problems.append(f"{table}: {len(one_side)} keys on one side only, e.g. {sample}")
    both = merged[merged["_merge"] == "both"]
    for column in columns:
        if column in keys:
            continue
        left, right = both[f"{column}_duckdb"], both[f"{column}_spark"]
        if pd.api.types.is_numeric_dtype(left) and pd.api.types.is_numeric_dtype(right):
            a, b = left.astype("float64").to_numpy(), right.astype("float64").to_numpy()
            same = (np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=RELATIVE_TOLERANCE, atol=0)
        else:
            same = (left.isna() & right.isna()) | (left == right).fillna(False).astype(bool)
        differing = both.loc[~np.asarray(same, dtype=bool)]
        if len(differing):
            sample = [
                {
                    **{k: row[k] for k in keys},
                    "duckdb": row[f"{column}_duckdb"],
                    "spark": row[f"{column}_spark"],
                }
                for _, row in differing.head(3).iterrows()
            ]
            problems.append(
                f"{table}.{column}: {len(differing)} of {len(both)} rows differ, e.g. {sample}"
            )
    return problems
