"""The source contract: the eleven raw landing tables powerseg reads from a utility's systems.

One place defines every table's columns, types, keys and allowed values; the simulator writes it,
the landing loader and the quality gates enforce it, the dbt sources, the contract macro dbt
staging runs on and docs/source_contract.md are generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # DuckDB type the loader casts to
    description: str
    required: bool = True  # a required column missing from an extract is a hard error
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    pii: bool = False
    minimum: float | None = None
    maximum: float | None = None
    # A table's time column: dates before this are implausible (the raw gate flags them, staging
    # quarantines them as date_out_of_window); without it, EARLIEST_EVENT_DATE applies.
    earliest: date | None = None


@dataclass(frozen=True)
class Table:
    name: str
    grain: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    time_column: str | None = None  # the event date/time used for window and freshness checks
    references_customers: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no contract column {name!r}")


CUSTOMER_TYPES = ("residential", "industrial", "commercial", "agricultural", "public_service")
VOLTAGE_LEVELS = ("0.22kV", "0.4kV", "10kV", "35kV", "110kV")
TARIFFS = ("residential_tiered", "general_commercial", "large_industry", "agricultural")
IMPORTANCE_GRADES = ("special", "first", "second", "none")
CUSTOMER_STATUSES = ("active", "suspended", "closed")
READ_QUALITIES = ("actual", "estimated", "missing")
METER_EVENT_TYPES = (
    "cover_open",
    "reverse_energy",
    "phase_loss",
    "current_imbalance",
    "clock_error",
    "power_off",
)
PAYMENT_CHANNELS = (
    "counter",
    "bank_debit",
    "app",
    "wechat",
    "alipay",
    "self_service_terminal",
    "agent",
)
OUTAGE_CAUSES = (
    "planned_maintenance",
    "equipment_failure",
    "weather",
    "external_damage",
    "overload",
)
WORK_ORDER_CHANNELS = ("phone_95598", "app", "wechat", "web", "counter")
TICKET_TYPES = ("complaint", "fault_report", "inquiry", "suggestion", "praise", "service_request")
TICKET_TOPICS = (
    "outage",
    "billing",
    "meter_reading",
    "voltage_quality",
    "staff_attitude",
    "connection",
)
INTERACTION_CHANNELS = ("app", "wechat", "web", "counter", "phone_95598", "self_service_terminal")
INTERACTION_ACTIONS = ("login", "bill_view", "payment", "business_request", "notification_read")
INSPECTION_RESULTS = ("normal", "theft", "violation")
SERVQUAL_DIMENSIONS = ("reliability", "responsiveness", "assurance", "empathy", "tangibles")

# Reads, bills, payments, tickets and the other events before this date are implausible (no
# utility system still delivers them); a time column's own `earliest` overrides it.
EARLIEST_EVENT_DATE = date(2000, 1, 1)

_CID = Column("customer_id", "VARCHAR", "Account number in the customer master (e.g. C0000001).")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            name="customers",
            grain="one row per electricity account",
            description="Customer master: who the account holder is, what is supplied and how.",
            key=("customer_id",),
            references_customers=False,
            time_column="open_date",
            columns=(
                _CID,
                Column("name", "VARCHAR", "Account holder name.", pii=True, nullable=True),
                Column(
                    "id_number",
                    "VARCHAR",
                    "National ID or business licence number.",
                    pii=True,
                    nullable=True,
                ),
                Column("phone", "VARCHAR", "Contact phone number.", pii=True, nullable=True),
                Column("address", "VARCHAR", "Supply address.", pii=True, nullable=True),
                Column("district", "VARCHAR", "Supply district (county-level service area)."),
                Column("customer_type", "VARCHAR", "Kind of customer.", allowed=CUSTOMER_TYPES),
                Column(
                    "industry_code",
                    "VARCHAR",
                    "National economic industry classification code (GB/T 4754 section letter "
                    "plus division, e.g. C13); residents use 'R'.",
                    nullable=True,
                ),
                Column("voltage_level", "VARCHAR", "Supply voltage.", allowed=VOLTAGE_LEVELS),
                Column(
                    "contracted_capacity_kva",
                    "DOUBLE",
                    "Contracted (installed) capacity, kVA.",
                    minimum=0,
                ),
                Column("tariff", "VARCHAR", "Tariff the account is billed on.", allowed=TARIFFS),
                Column(
                    "importance_grade",
                    "VARCHAR",
                    "Importance grade for supply security (special, first, second) or none.",
                    allowed=IMPORTANCE_GRADES,
                ),
                Column(
                    "key_enterprise_flag",
                    "BOOLEAN",
                    "True for accounts on the key-enterprise list.",
                ),
                Column(
                    "is_community_account",
                    "BOOLEAN",
                    "True for a residential community (estate) master account.",
                ),
                Column(
                    "households",
                    "INTEGER",
                    "Households served, community accounts only.",
                    nullable=True,
                    minimum=1,
                ),
                Column(
                    "holder_birth_year",
                    "INTEGER",
                    "Birth year of the account holder, residential accounts only.",
                    nullable=True,
                    minimum=1900,
                    maximum=2015,
                ),
                # Accounts predate any extract, but a supply account opened before 1950 is not
                # plausible: a mis-keyed or placeholder date.
                Column(
                    "open_date",
                    "DATE",
                    "Date the account was opened.",
                    earliest=date(1950, 1, 1),
                ),
                Column("status", "VARCHAR", "Account status.", allowed=CUSTOMER_STATUSES),
            ),
        ),
        Table(
            name="meter_reads_daily",
            grain="customer x day",
            description="Daily smart-meter reads (AMI).",
            key=("customer_id", "read_date"),
            time_column="read_date",
            columns=(
                _CID,
                Column("read_date", "DATE", "Calendar day of the read."),
                Column(
                    "kwh",
                    "DOUBLE",
                    "Energy consumed that day, kWh (null when missing).",
                    nullable=True,
                    minimum=0,
                ),
                Column(
                    "max_demand_kw",
                    "DOUBLE",
                    "Maximum 15-minute demand that day, kW.",
                    nullable=True,
                    minimum=0,
                ),
                Column(
                    "read_quality", "VARCHAR", "How the value was obtained.", allowed=READ_QUALITIES
                ),
            ),
        ),
        Table(
            name="meter_events",
            grain="one row per meter event",
            description="Events raised by the meter (tamper, wiring and power events).",
            key=("customer_id", "event_time", "event_type"),
            time_column="event_time",
            columns=(
                _CID,
                Column("event_time", "TIMESTAMP", "When the meter raised the event."),
                Column("event_type", "VARCHAR", "Kind of event.", allowed=METER_EVENT_TYPES),
            ),
        ),
        Table(
            name="bills",
            grain="customer x bill month",
            description="Monthly bills.",
            key=("customer_id", "bill_month"),
            time_column="bill_month",
            columns=(
                _CID,
                Column("bill_month", "DATE", "First day of the billed month."),
                Column("kwh", "DOUBLE", "Billed energy, kWh.", minimum=0),
                Column("amount", "DOUBLE", "Billed amount, CNY.", minimum=0),
                Column("due_date", "DATE", "Payment due date."),
            ),
        ),
        Table(
            name="payments",
            grain="one row per payment",
            description="Payments received against bills (a bill may be paid in parts).",
            key=("payment_id",),
            time_column="paid_at",
            columns=(
                Column("payment_id", "VARCHAR", "Payment transaction id."),
                _CID,
                Column("bill_month", "DATE", "Month of the bill the payment settles."),
                Column("paid_at", "TIMESTAMP", "When the payment was received."),
                Column("amount", "DOUBLE", "Amount paid, CNY.", minimum=0),
                Column("channel", "VARCHAR", "Payment channel.", allowed=PAYMENT_CHANNELS),
            ),
        ),
        Table(
            name="supply_topology",
            grain="one row per customer",
            description="Where each customer hangs in the grid: transformer and feeder.",
            key=("customer_id",),
            columns=(
                _CID,
                Column("transformer_id", "VARCHAR", "Distribution transformer (area) id."),
                Column("feeder_id", "VARCHAR", "10 kV feeder id."),
            ),
        ),
        Table(
            name="outages",
            grain="one row per outage event",
            description="Supply interruptions on a feeder (all its customers) or a transformer.",
            key=("outage_id",),
            time_column="start_at",
            references_customers=False,
            columns=(
                Column("outage_id", "VARCHAR", "Outage event id."),
                Column(
                    "feeder_id",
                    "VARCHAR",
                    "Feeder interrupted (null when only one transformer was).",
                    nullable=True,
                ),
                Column(
                    "transformer_id",
                    "VARCHAR",
                    "Transformer interrupted (null when the whole feeder was).",
                    nullable=True,
                ),
                Column("start_at", "TIMESTAMP", "When supply was lost."),
                Column("end_at", "TIMESTAMP", "When supply was restored."),
                Column("planned", "BOOLEAN", "True for planned (announced) outages."),
                Column("cause", "VARCHAR", "Cause category.", allowed=OUTAGE_CAUSES),
            ),
        ),
        Table(
            name="work_orders",
            grain="one row per ticket",
            description="Service tickets from 95598 and the other channels.",
            key=("ticket_id",),
            time_column="created_at",
            columns=(
                Column("ticket_id", "VARCHAR", "Ticket id."),
                _CID,
                Column("created_at", "TIMESTAMP", "When the ticket was opened."),
                Column(
                    "channel",
                    "VARCHAR",
                    "Channel the ticket came through.",
                    allowed=WORK_ORDER_CHANNELS,
                ),
                Column("ticket_type", "VARCHAR", "Kind of ticket.", allowed=TICKET_TYPES),
                Column("topic", "VARCHAR", "What the ticket is about.", allowed=TICKET_TOPICS),
                Column(
                    "closed_at",
                    "TIMESTAMP",
                    "When the ticket was closed (null if open).",
                    nullable=True,
                ),
                Column(
                    "satisfaction",
                    "INTEGER",
                    "Customer rating of the handling, 1-5.",
                    nullable=True,
                    minimum=1,
                    maximum=5,
                ),
            ),
        ),
        Table(
            name="channel_interactions",
            grain="one row per interaction",
            description="Customer interactions logged by the service channels.",
            key=("customer_id", "occurred_at", "channel", "action"),
            time_column="occurred_at",
            columns=(
                _CID,
                Column("occurred_at", "TIMESTAMP", "When the interaction happened."),
                Column("channel", "VARCHAR", "Channel used.", allowed=INTERACTION_CHANNELS),
                Column("action", "VARCHAR", "What the customer did.", allowed=INTERACTION_ACTIONS),
            ),
        ),
        Table(
            name="inspections",
            grain="one row per field inspection",
            description="On-site inspections for electricity theft and contract violations.",
            key=("inspection_id",),
            time_column="inspected_on",
            columns=(
                Column("inspection_id", "VARCHAR", "Inspection id."),
                _CID,
                Column("inspected_on", "DATE", "Date of the inspection."),
                Column("result", "VARCHAR", "Finding.", allowed=INSPECTION_RESULTS),
                Column(
                    "recovered_kwh",
                    "DOUBLE",
                    "Energy recovered (back-billed), kWh.",
                    nullable=True,
                    minimum=0,
                ),
                Column(
                    "penalty_amount", "DOUBLE", "Penalty charged, CNY.", nullable=True, minimum=0
                ),
            ),
        ),
        Table(
            name="satisfaction_surveys",
            grain="one row per survey answer (customer x survey date x dimension)",
            description="SERVQUAL survey answers: expectation and perception per dimension.",
            key=("customer_id", "surveyed_on", "dimension"),
            time_column="surveyed_on",
            columns=(
                _CID,
                Column("surveyed_on", "DATE", "Date of the survey."),
                Column("dimension", "VARCHAR", "SERVQUAL dimension.", allowed=SERVQUAL_DIMENSIONS),
                Column(
                    "expectation", "INTEGER", "Expected service level, 1-7.", minimum=1, maximum=7
                ),
                Column(
                    "perception", "INTEGER", "Perceived service level, 1-7.", minimum=1, maximum=7
                ),
            ),
        ),
    )
}

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
PII_COLUMNS: tuple[str, ...] = tuple(c.name for t in TABLES.values() for c in t.columns if c.pii)

# A landing folder holds one sub-folder of Parquet files per table, and a manifest that marks the
# extract complete once every table has been written.
MANIFEST_FILE = "_manifest.json"


def arrow_types() -> dict:
    """The Parquet (Arrow) type a producer writes for each contract type."""
    import pyarrow as pa

    return {
        "VARCHAR": pa.string(),
        "DOUBLE": pa.float64(),
        "INTEGER": pa.int32(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
        "TIMESTAMP": pa.timestamp("us"),
    }
