"""Runs the simulation end to end and lands every contract table plus the hidden-trait truth file.

`Simulation.parts()` yields each table before it is written, so a later step can post-process it.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from powerseg.contract import (
    INSPECTION_RESULTS,
    INTERACTION_ACTIONS,
    INTERACTION_CHANNELS,
    METER_EVENT_TYPES,
    OUTAGE_CAUSES,
    PAYMENT_CHANNELS,
    READ_QUALITIES,
    SERVQUAL_DIMENSIONS,
    TABLE_NAMES,
    TICKET_TOPICS,
    TICKET_TYPES,
    WORK_ORDER_CHANNELS,
)

from .billing import build_bills, build_payments
from .clock import Window
from .consumption import ReadGenerator
from .customers import build_customers, customers_columns, truth_columns
from .defects import DEFECTS_JSON, DEFECTS_PARQUET, DefectInjector, DefectPlan
from .grid import build_grid, build_outages, exposures
from .landing import (
    Coded,
    LandingWriter,
    build_table,
    contract_table,
    format_ids,
    require_simulator_folder,
    write_parquet,
)
from .service import build_interactions, build_surveys, build_work_orders
from .theft import simulate_theft

TRUTH_FILE = Path("truth") / "customer_traits.parquet"
TRUTH_DTYPES = {
    "customer_id": "VARCHAR",
    "true_segment": "VARCHAR",
    "value_tier": "INTEGER",
    "value_score": "DOUBLE",
    "outage_sensitivity": "DOUBLE",
    "financial_stress": "DOUBLE",
    "digital_affinity": "DOUBLE",
    "theft_propensity": "DOUBLE",
    "is_thief": "BOOLEAN",
    "theft_start_month": "DATE",
    "theft_caught_on": "DATE",
    "theft_drop": "DOUBLE",
    "base_daily_kwh": "DOUBLE",
    "annual_growth": "DOUBLE",
    "auto_debit": "BOOLEAN",
}
MIN_CUSTOMERS = 100


@dataclass(frozen=True)
class TablePart:
    table: str
    part: str  # file stem under raw/<table>/
    data: pa.Table


class Simulation:
    """A reproducible simulated extract; iterate `parts()` once to generate it table by table."""

    def __init__(
        self, customers: int = 5000, months: int = 24, seed: int = 42, end_month: str = "2026-10"
    ):
        if customers < MIN_CUSTOMERS:
            raise ValueError(f"customers must be at least {MIN_CUSTOMERS}, got {customers}")
        if seed < 0:
            raise ValueError("seed must be a non-negative integer")
        self.customers, self.seed = int(customers), int(seed)
        self.window = Window(end_month, int(months))
        self.truth: pa.Table | None = None  # set once the theft outcome is known

    @property
    def n_parts(self) -> int:
        return len(TABLE_NAMES) - 1 + self.window.months

    def parts(self) -> Iterator[TablePart]:
        seed, w = self.seed, self.window
        c = build_customers(seed, self.customers, w)
        ids = pa.array(c.customer_id.tolist(), type=pa.string())
        yield _part("customers", customers_columns(c))

        grid = build_grid(seed, c)
        transformer_ids = format_ids("T", np.arange(1, grid.n_transformers + 1), 6)
        feeder_ids = format_ids("F", np.arange(1, grid.n_feeders + 1), 4)
        yield _part(
            "supply_topology",
            {
                "customer_id": ids,
                "transformer_id": Coded(grid.transformer_of, transformer_ids),
                "feeder_id": Coded(grid.feeder_of, feeder_ids),
            },
        )

        outages = build_outages(seed, grid, w)
        exposure = exposures(grid, outages, c)
        yield _part(
            "outages",
            {
                "outage_id": format_ids("O", np.arange(1, outages.n + 1), 7),
                "feeder_id": Coded(outages.feeder, feeder_ids, null=outages.feeder < 0),
                "transformer_id": Coded(
                    outages.transformer, transformer_ids, null=outages.transformer < 0
                ),
                "start_at": outages.start,
                "end_at": outages.end,
                "planned": outages.planned,
                "cause": Coded(outages.cause, OUTAGE_CAUSES),
            },
        )

        theft = simulate_theft(seed, c, w, outages, exposure)
        self.truth = build_table(truth_columns(c, theft.caught_day), TRUTH_DTYPES)
        ev, ins = theft.events, theft.inspections
        yield _part(
            "meter_events",
            {
                "customer_id": Coded(ev["customer"], ids),
                "event_time": ev["time"],
                "event_type": Coded(ev["event_type"], METER_EVENT_TYPES),
            },
        )
        normal = ins["result"] == INSPECTION_RESULTS.index("normal")
        yield _part(
            "inspections",
            {
                "inspection_id": format_ids("I", np.arange(1, ins["customer"].size + 1), 7),
                "customer_id": Coded(ins["customer"], ids),
                "inspected_on": ins["day"],
                "result": Coded(ins["result"], INSPECTION_RESULTS),
                "recovered_kwh": (ins["recovered_kwh"], normal),
                "penalty_amount": (ins["penalty"], normal),
            },
        )

        # Reads are the big table: one month in memory, handed over before the next is made.
        reads = ReadGenerator(seed, c, w, theft.caught_day, outages, exposure)
        metered = np.zeros((c.n, w.months))
        billable_days = np.zeros((c.n, w.months), dtype=np.int64)
        for m in range(w.months):
            r, metered[:, m], billable_days[:, m] = reads.month(m)
            missing = r.quality == READ_QUALITIES.index("missing")
            yield _part(
                "meter_reads_daily",
                {
                    "customer_id": Coded(r.customer, ids),
                    "read_date": r.day,
                    "kwh": (r.kwh, missing),
                    "max_demand_kw": (r.max_demand_kw, missing),
                    "read_quality": Coded(r.quality, READ_QUALITIES),
                },
                part=w.month_label(m),
            )
            del r, missing

        bills = build_bills(c, w, metered, billable_days)
        yield _part(
            "bills",
            {
                "customer_id": Coded(bills.customer, ids),
                "bill_month": w.month_starts[bills.month],
                "kwh": bills.kwh,
                "amount": bills.amount,
                "due_date": bills.due_day,
            },
        )
        pay = build_payments(seed, c, w, bills)
        yield _part(
            "payments",
            {
                "payment_id": format_ids("P", np.arange(1, pay["customer"].size + 1), 10),
                "customer_id": Coded(pay["customer"], ids),
                "bill_month": w.month_starts[pay["month"]],
                "paid_at": pay["paid_at"],
                "amount": pay["amount"],
                "channel": Coded(pay["channel"], PAYMENT_CHANNELS),
            },
        )

        wo = build_work_orders(seed, c, w, outages, exposure)
        yield _part(
            "work_orders",
            {
                "ticket_id": format_ids("W", np.arange(1, wo["customer"].size + 1), 8),
                "customer_id": Coded(wo["customer"], ids),
                "created_at": wo["created"],
                "channel": Coded(wo["channel"], WORK_ORDER_CHANNELS),
                "ticket_type": Coded(wo["ticket_type"], TICKET_TYPES),
                "topic": Coded(wo["topic"], TICKET_TOPICS),
                "closed_at": (wo["closed"], wo["closed_missing"]),
                "satisfaction": (wo["satisfaction"], wo["satisfaction"] == 0),
            },
        )
        act = build_interactions(seed, c, w, bills, pay)
        yield _part(
            "channel_interactions",
            {
                "customer_id": Coded(act["customer"], ids),
                "occurred_at": act["occurred"],
                "channel": Coded(act["channel"], INTERACTION_CHANNELS),
                "action": Coded(act["action"], INTERACTION_ACTIONS),
            },
        )
        sv = build_surveys(seed, c, w, outages, exposure, wo)
        yield _part(
            "satisfaction_surveys",
            {
                "customer_id": Coded(sv["customer"], ids),
                "surveyed_on": sv["day"],
                "dimension": Coded(sv["dimension"], SERVQUAL_DIMENSIONS),
                "expectation": sv["expectation"],
                "perception": sv["perception"],
            },
        )


def _part(table: str, columns: dict, part: str | None = None) -> TablePart:
    return TablePart(table, part or table, contract_table(table, columns))


def simulate(
    out_dir: str | Path,
    customers: int = 5000,
    months: int = 24,
    seed: int = 42,
    end_month: str = "2026-10",
    progress: bool = True,
    defects: DefectPlan | None = None,
) -> dict:
    """Write a simulated extract to out_dir/raw (+ out_dir/truth) and return its manifest.

    Every contract table lands as Parquet under raw/<table>/ (meter reads one file per month);
    the hidden traits go to truth/customer_traits.parquet; raw/_manifest.json is written last.
    With `defects`, the extract is corrupted as planned (simulator/defects.py) and what was
    injected goes to truth/defects.json and truth/defects.parquet.

    Writes only into folders that are empty or that the simulator wrote (ForeignFolderError
    otherwise, before anything is touched); in its own folders it replaces only its own files.
    """
    out = Path(out_dir)
    sim = Simulation(customers=customers, months=months, seed=seed, end_month=end_month)
    for folder in (out / "raw", out / "truth"):
        require_simulator_folder(folder, out / "raw")
    writer = LandingWriter(out / "raw")
    for stale in (DEFECTS_JSON, DEFECTS_PARQUET):
        (out / stale).unlink(missing_ok=True)
    injector = None
    if defects is not None and not defects.is_empty:
        end = np.datetime64(sim.window.end, "D").astype(dt.date)
        injector = DefectInjector(defects, seed, end)
    with tqdm(
        total=sim.n_parts + 1, desc="simulate", unit="table", file=sys.stderr, disable=not progress
    ) as bar:
        for part in sim.parts():
            bar.set_postfix_str(f"{part.table}/{part.part}", refresh=False)
            data = part.data
            if injector is not None:
                data = injector.apply(part.table, part.part, data)
            writer.write(part.table, part.part, data)
            bar.update()
        assert sim.truth is not None
        write_parquet(sim.truth, out / TRUTH_FILE)
        bar.update()
    manifest = writer.finish(sim.window.start, sim.window.end, sim.seed, sim.customers)
    if injector is not None:
        injector.write(out, {t: v["rows"] for t, v in manifest["tables"].items()})
    return manifest


__all__ = ["Simulation", "TablePart", "simulate"]
