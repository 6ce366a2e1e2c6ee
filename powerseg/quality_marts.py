"""Data-quality gates on the feature marts and the outputs: one row per customer and as-of month,
every active customer present, no unexpected nulls, values in range; run in the warehouse by SQL.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import great_expectations as gx
import sqlalchemy as sa

from powerseg.quality import (
    ERROR,
    WARNING,
    ExpectationOutcome,
    Severity,
    TableResult,
    _catalog,
    _jsonable,
    _ordered,
    _q,
    _run_suite,
    _table_exists,
    evaluation_error,
)
from powerseg.quality_ge import ephemeral_context, warehouse_engine

KEY = ("customer_id", "as_of_month")
SPINE = "marts.customer_360"  # the active customers of every as-of month the marts describe
ACTIVE_SPINE = "intermediate.int_active_customers_spined"
# Rows of a factor whose source table was empty carry this tier and no score (see
# orchestration/assets/factors.py): a warning, not an error, at the output gate.
NOT_SCORED_TIER = "not_scored"

SHARE = (0.0, 1.0)
NON_NEGATIVE = (0.0, None)
SCORE = (0.0, 100.0)


@dataclass(frozen=True)
class RelationSpec:
    """What a mart or output table must satisfy. Every column not listed in `nullable` must have
    no nulls; `nullable` maps a column to the largest null share that is only a warning above."""

    schema: str
    name: str
    ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    nullable: Mapping[str, float] = field(default_factory=dict)
    # Validate only the newest as-of month of the spine (outputs: the month the run scored).
    newest_month_only: bool = False
    # The (customer_id, as_of_month) rows the table must hold exactly: a query over the spine.
    coverage_spine: str = SPINE
    score_column: str | None = None  # outputs: the score that a skipped factor leaves null
    # Columns that are a warning, not an error, when null in every row: a skipped factor's.
    skippable: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def _mart(
    name: str,
    ranges: Mapping[str, Any],
    nullable: Mapping[str, float] | None = None,
    skippable: tuple[str, ...] = (),
):
    # customer_360 is held against the active-customer spine dbt builds; the feature marts
    # against customer_360, a table, so they compare row sets without re-deriving the spine.
    spine = ACTIVE_SPINE if name == "customer_360" else SPINE
    return RelationSpec(
        "marts",
        name,
        ranges=ranges,
        nullable=nullable or {},
        coverage_spine=spine,
        skippable=skippable,
    )


MART_SPECS: Mapping[str, RelationSpec] = MappingProxyType(
    {
        s.name: s
        for s in (
            _mart(
                "customer_360",
                {
                    "contracted_capacity_kva": NON_NEGATIVE,
                    "tenure_months": NON_NEGATIVE,
                    "revenue_12m_cny": NON_NEGATIVE,
                    "kwh_12m": NON_NEGATIVE,
                    "on_time_payment_rate_12m": SHARE,
                    "outage_contact_rate_12m": SHARE,
                    "late_payment_rate_12m": SHARE,
                    "digital_share_12m": SHARE,
                    "online_payment_share_12m": SHARE,
                    "unpaid_bills_at_as_of": NON_NEGATIVE,
                },
                # Only community accounts have households; only residents a holder age.
                {"households": 1.0, "holder_age_years": 1.0, "industry_code": 1.0},
                # a source system without a topology table: no transformer area for anyone (a
                # warning); some customers missing from a delivered topology stays an error
                skippable=("transformer_id", "feeder_id"),
            ),
            _mart(
                "fct_features_contribution",
                {
                    "revenue_12m_cny": NON_NEGATIVE,
                    "kwh_12m": NON_NEGATIVE,
                    "unit_price_cny_per_kwh": NON_NEGATIVE,
                    "kwh_growth_ratio": (-1.0, None),
                    "load_factor": SHARE,
                    "capacity_utilisation": NON_NEGATIVE,
                    "tenure_months": NON_NEGATIVE,
                    "on_time_payment_rate_12m": SHARE,
                },
            ),
            _mart(
                "fct_features_outage_sensitivity",
                {
                    "outages_experienced_12m": NON_NEGATIVE,
                    "unplanned_outages_12m": NON_NEGATIVE,
                    "outage_minutes_12m": NON_NEGATIVE,
                    "outage_contacts_72h_12m": NON_NEGATIVE,
                    "outage_contact_rate_12m": SHARE,
                    "tickets_12m": NON_NEGATIVE,
                    "reliability_gap": (-6.0, 6.0),
                    "kwh_12m": NON_NEGATIVE,
                },
                # Only surveyed customers have a SERVQUAL gap.
                {"reliability_gap": 1.0},
            ),
            _mart(
                "fct_features_arrears",
                {
                    "bills_12m": (0.0, 12.0),
                    "avg_bill_cny": NON_NEGATIVE,
                    "late_payments_12m": NON_NEGATIVE,
                    "late_payment_rate_12m": SHARE,
                    "avg_days_late_12m": NON_NEGATIVE,
                    "max_days_late_12m": NON_NEGATIVE,
                    "unpaid_bills_at_as_of": NON_NEGATIVE,
                    "unpaid_amount_at_as_of_cny": NON_NEGATIVE,
                    "auto_debit_share_12m": SHARE,
                },
            ),
            _mart(
                "fct_features_channel_activity",
                {
                    **{
                        f"{channel}_recency_days": (0.0, 366.0)
                        for channel in (
                            "app",
                            "wechat",
                            "web",
                            "counter",
                            "phone_95598",
                            "self_service_terminal",
                        )
                    },
                    "channels_used_12m": (0.0, 6.0),
                    "interactions_12m": NON_NEGATIVE,
                    "digital_share_12m": SHARE,
                    "online_payment_share_12m": SHARE,
                },
            ),
            _mart(
                "fct_features_inspection",
                {
                    "kwh_3m": NON_NEGATIVE,
                    "kwh_prior_9m_monthly_avg": NON_NEGATIVE,
                    "zero_read_days_3m": (0.0, 92.0),
                    "missing_read_share_3m": SHARE,
                    "meter_events_3m": NON_NEGATIVE,
                    "past_inspections": NON_NEGATIVE,
                    "past_positive_inspections": NON_NEGATIVE,
                },
                # Only inspected customers have a last inspection.
                {"months_since_last_inspection": 1.0},
            ),
        )
    }
)

_SCORE_NULLABLE = {"reason_1": 1.0, "reason_2": 1.0, "reason_3": 1.0, "reason": 1.0}


def score_spec(factor: str) -> RelationSpec:
    """scores.<factor>_scores for the scored month: every active customer once, score 0-100."""
    ranges: dict[str, tuple[float | None, float | None]] = {"score": SCORE}
    if factor in ("outage_sensitivity", "arrears", "inspection"):
        ranges["probability"] = SHARE
    # Skipped factors leave every column but the key, tier and model fields null.
    nullable = {**_SCORE_NULLABLE}
    return RelationSpec(
        "scores",
        f"{factor}_scores",
        ranges=ranges,
        nullable=nullable,
        newest_month_only=True,
        score_column="score",
    )


def factor_scores_spec(factors: tuple[str, ...]) -> RelationSpec:
    return RelationSpec(
        "marts",
        "customer_factor_scores",
        ranges={f"{f}_score": SCORE for f in factors},
        skippable=tuple(f"{f}_score" for f in factors),
        nullable={
            "outage_sensitivity_reasons": 1.0,
            "arrears_reasons": 1.0,
            "inspection_reason": 1.0,
        },
        newest_month_only=True,
    )


# --- running -----------------------------------------------------------------------------------


@dataclass
class _RelationCheck:
    id: str
    name: str
    column: str | None
    expectation: Any
    severity: Severity = ERROR
    sample_sql: str | None = None  # offending rows, `{batch}` standing for the validated rows
    note: str = ""
    share_limit: float | None = None  # null-share checks: fail only above this share


def _newest_month(conn: sa.Connection) -> date | None:
    if not _table_exists(conn, "marts", "customer_360"):
        return None
    value = conn.execute(sa.text(f"SELECT max(as_of_month) FROM {SPINE}")).scalar()
    return value.date() if isinstance(value, datetime) else value


def _skipped(conn: sa.Connection, qualified: str, month: date | None) -> bool:
    """Whether the scored month holds only rows of a skipped factor (no scores at all)."""
    where = "WHERE CAST(as_of_month AS DATE) = :m" if month else ""
    row = conn.execute(
        sa.text(f"SELECT count(*), count(*) FILTER (WHERE tier = :t) FROM {qualified} {where}"),
        {"t": NOT_SCORED_TIER, "m": month},
    ).fetchone()
    return bool(row[0]) and row[0] == row[1]


def build_relation_checks(
    spec: RelationSpec,
    columns: Mapping[str, str],
    month: date | None,
    skipped: bool,
    all_null: frozenset[str] = frozenset(),
) -> list[_RelationCheck]:
    spine_where = f"WHERE CAST(as_of_month AS DATE) = DATE '{month.isoformat()}'" if month else ""
    checks = [
        _RelationCheck(
            "row_count",
            "expect_table_row_count_to_be_between(min=1)",
            None,
            gx.expectations.ExpectTableRowCountToBeBetween(min_value=1),
            note="no rows" + (f" for the scored month {month}" if month else ""),
        )
    ]
    for col in KEY:
        checks.append(
            _RelationCheck(
                f"exists:{col}",
                f"expect_column_to_exist({col})",
                col,
                gx.expectations.ExpectColumnToExist(column=col),
            )
        )
    if not all(k in columns for k in KEY):
        return checks
    keys = ", ".join(KEY)
    checks.append(
        _RelationCheck(
            "unique_key",
            f"expect_compound_columns_to_be_unique({keys})",
            None,
            gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=list(KEY)),
            sample_sql=(
                f"SELECT {keys}, count(*) AS rows_per_key FROM {{batch}} "
                f"GROUP BY {keys} HAVING count(*) > 1 ORDER BY {keys}"
            ),
            note="one row per customer and as-of month",
        )
    )
    missing = (
        f"SELECT customer_id, CAST(as_of_month AS DATE) AS as_of_month FROM {spec.coverage_spine} "
        f"{spine_where} EXCEPT SELECT customer_id, CAST(as_of_month AS DATE) FROM {{batch}}"
    )
    # Only the months the spine holds: an incremental mart keeps months that earlier runs built
    # (and checked) outside the window this run's spine was rebuilt for.
    extra = (
        f"SELECT customer_id, CAST(as_of_month AS DATE) AS as_of_month FROM {{batch}} "
        f"WHERE CAST(as_of_month AS DATE) IN (SELECT DISTINCT CAST(as_of_month AS DATE) "
        f"FROM {spec.coverage_spine} {spine_where}) EXCEPT "
        f"SELECT customer_id, CAST(as_of_month AS DATE) FROM {spec.coverage_spine} {spine_where}"
    )
    for cid, sql, what in (
        ("missing", missing, "active customers missing"),
        ("extra", extra, "rows for customers who are not active"),
    ):
        checks.append(
            _RelationCheck(
                f"coverage:{cid}",
                f"expect_no_unexpected_rows({what}, {spec.coverage_spine})",
                None,
                gx.expectations.UnexpectedRowsExpectation(unexpected_rows_query=sql),
                sample_sql=sql + " ORDER BY 1, 2",
                note=f"{what}: every active customer exactly once, against {spec.coverage_spine}",
            )
        )
    for col in columns:
        if col in spec.nullable:
            limit = spec.nullable[col]
            if limit >= 1.0:
                continue
            checks.append(
                _RelationCheck(
                    f"null_share:{col}",
                    f"expect_column_values_to_not_be_null({col}, mostly={1 - limit:g})",
                    col,
                    gx.expectations.ExpectColumnValuesToNotBeNull(column=col, mostly=1 - limit),
                    severity=WARNING,
                    sample_sql=f"SELECT {keys} FROM {{batch}} WHERE {_q(col)} IS NULL "
                    f"ORDER BY {keys}",
                    share_limit=limit,
                    note=f"more than {limit:.0%} nulls",
                )
            )
            continue
        skipped_score = skipped and col not in (*KEY, "tier", "model_name", "model_version")
        if skipped_score and col != spec.score_column:
            # A skipped factor fills only the key and tier: said once, on the score, as a warning.
            continue
        skipped_score = skipped_score or col in all_null
        checks.append(
            _RelationCheck(
                f"not_null:{col}",
                f"expect_column_values_to_not_be_null({col})",
                col,
                gx.expectations.ExpectColumnValuesToNotBeNull(column=col),
                severity=WARNING if skipped_score else ERROR,
                sample_sql=f"SELECT {keys} FROM {{batch}} WHERE {_q(col)} IS NULL ORDER BY {keys}",
                note="factor skipped: its source table was empty, no scores this month"
                if skipped_score
                else "",
            )
        )
    for col, (lo, hi) in spec.ranges.items():
        if col not in columns:
            continue
        conds = [f"{_q(col)} < {lo}"] if lo is not None else []
        conds += [f"{_q(col)} > {hi}"] if hi is not None else []
        bounds = ", ".join(
            [
                *([f"min={lo:g}"] if lo is not None else []),
                *([f"max={hi:g}"] if hi is not None else []),
            ]
        )
        checks.append(
            _RelationCheck(
                f"between:{col}",
                f"expect_column_values_to_be_between({col}, {bounds})",
                col,
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column=col, min_value=lo, max_value=hi
                ),
                sample_sql=f"SELECT {keys}, {_q(col)} FROM {{batch}} WHERE {' OR '.join(conds)} "
                f"ORDER BY {keys}",
            )
        )
    return checks


def _relation_outcome(check: _RelationCheck, result: Any, sampler) -> ExpectationOutcome:
    expectation_type = result.expectation_config.type
    raw = dict(result.result or {})
    unevaluated = evaluation_error(check, result)
    if unevaluated is not None:
        return unevaluated
    if "unexpected_count" in raw:
        total = int(raw.get("element_count") or 0)
        unexpected = int(raw.get("unexpected_count") or 0)
        share = unexpected / total if total else 0.0
        observed = {
            "unexpected_count": unexpected,
            "unexpected_percent": round(100.0 * share, 4),
            "element_count": total,
        }
        limit = check.share_limit or 0.0
        success = share <= limit if check.share_limit is not None else unexpected == 0
    else:
        observed = {"observed_value": _jsonable(raw.get("observed_value"))}
        success = bool(result.success)
    return ExpectationOutcome(
        check.name,
        expectation_type,
        check.column,
        success,
        None if success else check.severity,
        observed,
        () if success else sampler(check),
        "" if success else check.note,
    )


def validate_relation(
    warehouse: str | Path,
    spec: RelationSpec,
    *,
    sample_size: int = 10,
    lock_timeout_seconds: float = 0.0,
) -> TableResult:
    """Validate a mart or output table read-only in the DuckDB file; the newest as-of month of
    marts.customer_360 only when the spec says so (an output is judged on the month it scored)."""
    display = spec.qualified
    with warehouse_engine(warehouse, lock_timeout_seconds) as (engine, conn):
        month = _newest_month(conn)
        if not _table_exists(conn, spec.schema, spec.name):
            missing = ExpectationOutcome(
                f"expect_table_to_exist({display})",
                "expect_table_to_exist",
                None,
                False,
                ERROR,
                {"observed_value": "missing"},
            )
            return TableResult(display, False, ERROR, None, month, (missing,))
        columns = _catalog(conn, spec.schema, spec.name)
        scoped = month if spec.newest_month_only else None
        query = f"SELECT * FROM {_q(spec.schema)}.{_q(spec.name)}"
        if scoped is not None and "as_of_month" in columns:
            query += f" WHERE CAST(as_of_month AS DATE) = DATE '{scoped.isoformat()}'"
        skipped = (
            spec.score_column is not None
            and "tier" in columns
            and _skipped(conn, f"{_q(spec.schema)}.{_q(spec.name)}", scoped)
        )
        row_count = int(conn.execute(sa.text(f"SELECT count(*) FROM ({query})")).scalar())
        all_null: frozenset[str] = frozenset()
        present = [c for c in spec.skippable if c in columns]
        if present and row_count:
            counts = conn.execute(
                sa.text(f"SELECT {', '.join(f'count({_q(c)})' for c in present)} FROM ({query})")
            ).fetchone()
            all_null = frozenset(c for c, n in zip(present, counts, strict=True) if n == 0)
        checks = build_relation_checks(spec, columns, scoped, skipped, all_null)

        def sampler(check: _RelationCheck) -> tuple[dict[str, Any], ...]:
            if not check.sample_sql:
                return ()
            sql = check.sample_sql.replace("{batch}", f"({query}) AS batch")
            rows = conn.execute(sa.text(f"{sql} LIMIT {sample_size}")).mappings().fetchall()
            return tuple({k: _jsonable(v) for k, v in row.items()} for row in rows)

        context = ephemeral_context()
        datasource = context.data_sources.add_sql(
            name="warehouse", connection_string=engine.url.render_as_string(hide_password=False)
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                asset = datasource.add_query_asset(name=spec.name, query=query)
            results = _run_suite(asset, checks, f"{spec.schema}_{spec.name}")
        finally:
            datasource.get_execution_engine().close()
        outcomes = [_relation_outcome(c, results[c.id], sampler) for c in checks]

    failures = [o for o in outcomes if not o.success]
    severity: Severity | None = None
    if failures:
        severity = ERROR if any(o.severity == ERROR for o in failures) else WARNING
    return TableResult(display, not failures, severity, row_count, month, tuple(_ordered(outcomes)))
