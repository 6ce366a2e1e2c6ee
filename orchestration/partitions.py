"""The as-of month as a Dagster partition: one partition per month whose data is complete.

Partition keys are the first day of the month ('2026-10-01'); dbt and the model code speak
'YYYY-MM'. The first month is `POWERSEG_FIRST_AS_OF_MONTH` (default 2024-01); the newest is the
last complete calendar month (a month becomes a partition once it has ended).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import dagster as dg
import yaml

DBT_PROJECT_YML = Path(__file__).resolve().parents[1] / "dbt_project" / "dbt_project.yml"

DEFAULT_FIRST_AS_OF_MONTH = "2024-01"
MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def first_as_of_month() -> str:
    value = os.environ.get("POWERSEG_FIRST_AS_OF_MONTH", DEFAULT_FIRST_AS_OF_MONTH)
    if not MONTH_PATTERN.match(value):
        raise ValueError(f"POWERSEG_FIRST_AS_OF_MONTH must look like 'YYYY-MM', got {value!r}")
    return value


# The utility works in China Standard Time: a month is complete once it has ended there.
as_of_months = dg.MonthlyPartitionsDefinition(
    start_date=f"{first_as_of_month()}-01", end_offset=0, timezone="Asia/Shanghai"
)

# A backfill of many months runs as one run: dbt builds the range in one invocation and the
# Python assets loop over its months in order, so each month can use the one before it.
single_run = dg.BackfillPolicy.single_run()


def month_of_key(key: str) -> str:
    """'2026-10-01' -> '2026-10'."""
    return key[:7]


def key_of_month(month: str) -> str:
    """'2026-10' -> '2026-10-01', checked against the partitions that exist."""
    if not MONTH_PATTERN.match(month):
        raise ValueError(f"an as-of month looks like 'YYYY-MM', got {month!r}")
    key = f"{month}-01"
    keys = as_of_months.get_partition_keys()
    if key not in keys:
        raise ValueError(
            f"as-of month {month} is not a partition: they run from {month_of_key(keys[0])} to "
            f"{month_of_key(keys[-1])} (set POWERSEG_FIRST_AS_OF_MONTH for earlier months)"
        )
    return key


def months_in_range(start_key: str, end_key: str) -> list[dt.date]:
    """Every as-of month from `start_key` to `end_key`, inclusive, as first-of-month dates."""
    start, end = dt.date.fromisoformat(start_key), dt.date.fromisoformat(end_key)
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def context_months(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The as-of months a (possibly ranged) partitioned run materialises, oldest first."""
    keys = context.partition_key_range
    return months_in_range(keys.start, keys.end)


def history_months() -> int:
    """The dbt var `history_months`: the as-of months before and including a month that a run
    for it rebuilds and that its models may learn from."""
    return int(yaml.safe_load(DBT_PROJECT_YML.read_text())["vars"]["history_months"])


def month_vars(months: list[dt.date]) -> dict[str, str | int]:
    """dbt vars that build the marts of `months` (oldest first): the newest is the as-of month,
    and the history reaches back as far before the oldest as a single-month run of it would."""
    return {
        "as_of_month": months[-1].strftime("%Y-%m"),
        "history_months": history_months() + len(months) - 1,
    }


def history_start(as_of_month: dt.date) -> dt.date:
    """The oldest month of `as_of_month`'s history window."""
    index = as_of_month.year * 12 + as_of_month.month - 1 - (history_months() - 1)
    return dt.date(index // 12, index % 12 + 1, 1)
