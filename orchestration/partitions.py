"""The as-of month as a Dagster partition: one partition per month the landed extract can build.

Partition keys are the first day of the month ('2026-10-01'); dbt and the model code speak
'YYYY-MM'. The months follow the extract in the landing folder (its `_manifest.json`), read when
the definitions load:

- the first is the first month whose outcome labels can be known within the extract (its first
  month + `outcome_months` + 1), so a model can be trained for it; an extract shorter than that
  gets its last complete month only. POWERSEG_FIRST_AS_OF_MONTH overrides it;
- the last is the extract's last complete month. A live extract (it ended at most
  POWERSEG_EXTRACT_MAX_AGE_DAYS ago) runs on to the last complete calendar month instead, so the
  schedule and the sensor keep finding next month's partition as deliveries land; a historical
  extract (2005, 2019, the demo) offers only its own months.

Without a manifest (nothing has landed) the window is 2024-01 to the last complete calendar month.
A code location loaded before an extract of other months landed shows the old months until it is
reloaded; `powerseg run` always reads the landing folder afresh.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from powerseg.dbt_vars import dbt_var
from powerseg.landing import LandingError, extract_status
from powerseg.settings import DEFAULT_EXTRACT_MAX_AGE_DAYS, MONTH_PATTERN, Settings

DEFAULT_FIRST_AS_OF_MONTH = "2024-01"
TIMEZONE = "Asia/Shanghai"  # the utility works in China Standard Time


def _shift(month: str, months: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class MonthWindow:
    """The as-of months offered: `first` to `last` ('YYYY-MM'), or to the last complete calendar
    month when `last` is None; `origin` says where they came from."""

    first: str
    last: str | None
    origin: str

    def definition(self) -> dg.MonthlyPartitionsDefinition:
        if self.last is None:
            return dg.MonthlyPartitionsDefinition(
                start_date=f"{self.first}-01", end_offset=0, timezone=TIMEZONE
            )
        return dg.MonthlyPartitionsDefinition(
            start_date=f"{self.first}-01",
            end_date=f"{_shift(self.last, 1)}-01",  # exclusive
            timezone=TIMEZONE,
        )


def extract_month_window(
    manifest: dict | None,
    last_complete_month: str | None,
    *,
    today: dt.date | None = None,
    max_age_days: int = DEFAULT_EXTRACT_MAX_AGE_DAYS,
    override_first: str | None = None,
) -> MonthWindow:
    """The months an extract (its manifest and last complete month) can build."""
    start = str((manifest or {}).get("extract_start") or "")[:7]
    if manifest is None or not MONTH_PATTERN.match(start) or last_complete_month is None:
        first = override_first or DEFAULT_FIRST_AS_OF_MONTH
        return MonthWindow(first, None, "no extract has landed: the default calendar window")
    first = _shift(start, dbt_var("outcome_months") + 1)
    if first > last_complete_month:
        first = last_complete_month  # a short extract: its newest month, on the history it has
    first = override_first or first
    end = dt.date.fromisoformat(str(manifest["extract_end"])[:10])
    age = ((today or dt.date.today()) - end).days
    if age <= max_age_days:
        origin = f"a live extract ({start} .. {end}): months up to the last complete month"
        return MonthWindow(first, None, origin)
    origin = f"the extract {start} .. {end}: its months {first} .. {last_complete_month}"
    return MonthWindow(first, last_complete_month, origin)


def landed_month_window(settings: Settings | None = None) -> MonthWindow:
    """The window of the extract in the landing folder the settings point at."""
    settings = settings or Settings.from_env()
    try:
        status = extract_status(settings.raw_dir)
    except (LandingError, OSError):
        status = None
    return extract_month_window(
        status.manifest if status is not None and status.complete else None,
        status.last_complete_month if status is not None and status.complete else None,
        max_age_days=settings.extract_max_age_days,
        override_first=settings.first_as_of_month,
    )


# Dagster needs the partitions when the assets are declared, so the window is the landing
# folder's when the definitions load (the settings of the loading process).
month_window = landed_month_window()
as_of_months = month_window.definition()

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
        span = f"{month_of_key(keys[0])} to {month_of_key(keys[-1])}" if keys else "none"
        raise ValueError(
            f"as-of month {month} is not a partition: the months that exist run from {span} "
            f"({month_window.origin}; set POWERSEG_FIRST_AS_OF_MONTH for an earlier first month)"
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
    return dbt_var("history_months")


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
