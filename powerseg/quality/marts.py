"""What the feature marts and the outputs must satisfy: one spec per relation (ranges, documented
null shares, the spine it must cover), for the mart and output gates of relations.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

KEY = ("customer_id", "as_of_month")
SPINE = "marts.customer_360"  # the active customers of every as-of month the marts describe
ACTIVE_SPINE = "intermediate.int_active_customers_spined"
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
    # the tier every row of a skipped factor's month carries (the factor registry's): such a
    # month is a warning, not an error, at the output gate
    skipped_tier: str | None = None
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
