"""A landing extract written by hand with pyarrow, the way a utility's billing and metering systems
would deliver it, never by the simulator: a few hundred customers over a few months of another
year, with only the customer master, bills, payments and daily meter reads filled. Every other
contract table is delivered as an empty Parquet file with its columns (the source system has no
such data), and the manifest is written last, as the contract asks.

The data are plausible rather than planted: households and businesses of a few kinds in four
districts, seasonal consumption, bills priced per kWh, and a share of customers who pay late or
leave a bill unpaid.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from powerseg.contract import MANIFEST_FILE, TABLES, arrow_types

ARROW_TYPES = arrow_types()
FILLED = ("customers", "bills", "payments", "meter_reads_daily")
DISTRICTS = ("城东区", "城西区", "高新区", "江北县")
KINDS = (  # customer_type, tariff, voltage, capacity kVA, mean daily kWh, price CNY/kWh, share
    ("residential", "residential_tiered", "0.22kV", 8.0, 7.0, 0.56, 0.80),
    ("commercial", "general_commercial", "0.4kV", 80.0, 120.0, 0.82, 0.12),
    ("industrial", "large_industry", "10kV", 630.0, 1800.0, 0.68, 0.05),
    ("agricultural", "agricultural", "0.4kV", 30.0, 40.0, 0.49, 0.03),
)


def schema(table: str) -> pa.Schema:
    return pa.schema([(c.name, ARROW_TYPES[c.dtype]) for c in TABLES[table].columns])


def _write(raw: Path, table: str, columns: dict) -> int:
    folder = raw / table
    folder.mkdir(parents=True, exist_ok=True)
    frame = pa.table(columns, schema=schema(table)) if columns else schema(table).empty_table()
    pq.write_table(frame, folder / f"{table}_export.parquet")
    return frame.num_rows


def write_handbuilt_extract(
    raw: Path,
    *,
    customers: int = 300,
    first_month: str = "2019-01",
    months: int = 7,
    seed: int = 2019,
) -> dict:
    """Write the extract into `raw` (which must not exist); return its manifest."""
    rng = np.random.default_rng(seed)
    raw.mkdir(parents=True)
    start = dt.date.fromisoformat(f"{first_month}-01")
    month_starts = [_add_months(start, i) for i in range(months)]
    end = _add_months(start, months) - dt.timedelta(days=1)

    ids = [f"HB{i:06d}" for i in range(1, customers + 1)]
    kind_index = rng.choice(len(KINDS), size=customers, p=[k[-1] for k in KINDS])
    kinds = [KINDS[i] for i in kind_index]
    # about one customer in five pays late, one in twelve leaves bills unpaid for months
    late_payer = rng.random(customers) < 0.2
    defaulter = rng.random(customers) < 0.08
    rows = {
        "customers": {
            "customer_id": ids,
            "name": [f"客户{i}" for i in range(1, customers + 1)],
            "id_number": [f"3301{rng.integers(10**13, 10**14)}" for _ in ids],
            "phone": [f"13{rng.integers(10**8, 10**9)}" for _ in ids],
            "address": [f"{DISTRICTS[i % 4]}幸福路{i}号" for i in range(customers)],
            "district": [DISTRICTS[i % 4] for i in range(customers)],
            "customer_type": [k[0] for k in kinds],
            "industry_code": [None if k[0] == "residential" else "C13" for k in kinds],
            "voltage_level": [k[2] for k in kinds],
            "contracted_capacity_kva": [k[3] for k in kinds],
            "tariff": [k[1] for k in kinds],
            "importance_grade": ["none"] * customers,
            "key_enterprise_flag": [k[0] == "industrial" for k in kinds],
            "is_community_account": [False] * customers,
            "households": [1 if k[0] == "residential" else None for k in kinds],
            "holder_birth_year": [
                int(rng.integers(1940, 2000)) if k[0] == "residential" else None for k in kinds
            ],
            "open_date": [
                dt.date(int(rng.integers(1995, 2018)), int(rng.integers(1, 13)), 1) for _ in ids
            ],
            "status": ["active"] * customers,
        }
    }

    days = [start + dt.timedelta(days=d) for d in range((end - start).days + 1)]
    base = np.array([k[4] for k in kinds]) * rng.lognormal(0, 0.3, customers)
    season = np.array([1.0 + 0.25 * np.cos(2 * np.pi * (d.month - 1) / 12) for d in days])
    kwh = base[:, None] * season[None, :] * rng.lognormal(0, 0.15, (customers, len(days)))
    rows["meter_reads_daily"] = {
        "customer_id": np.repeat(ids, len(days)).tolist(),
        "read_date": days * customers,
        "kwh": np.round(kwh.ravel(), 3).tolist(),
        "max_demand_kw": np.round((kwh / 24 * 2.5).ravel(), 3).tolist(),
        "read_quality": ["actual"] * (customers * len(days)),
    }

    bills: dict[str, list] = {
        c: [] for c in ("customer_id", "bill_month", "kwh", "amount", "due_date")
    }
    payments: dict[str, list] = {
        c: [] for c in ("payment_id", "customer_id", "bill_month", "paid_at", "amount", "channel")
    }
    day_index = {d: i for i, d in enumerate(days)}
    for month in month_starts:
        following = _add_months(month, 1)
        columns = [day_index[month + dt.timedelta(days=d)] for d in range((following - month).days)]
        billed = kwh[:, columns].sum(axis=1)
        due = following + dt.timedelta(days=14)
        for c, cid in enumerate(ids):
            amount = round(float(billed[c]) * kinds[c][5], 2)
            bills["customer_id"].append(cid)
            bills["bill_month"].append(month)
            bills["kwh"].append(round(float(billed[c]), 2))
            bills["amount"].append(amount)
            bills["due_date"].append(due)
            if defaulter[c] and rng.random() < 0.6:
                continue  # unpaid
            delay = int(rng.integers(15, 45)) if late_payer[c] else -int(rng.integers(0, 12))
            paid = dt.datetime.combine(due, dt.time(10, 30)) + dt.timedelta(days=delay)
            if paid.date() > end:
                continue  # paid after the extract ends: not in it
            payments["payment_id"].append(f"P{len(payments['payment_id']) + 1:08d}")
            payments["customer_id"].append(cid)
            payments["bill_month"].append(month)
            payments["paid_at"].append(paid)
            payments["amount"].append(amount)
            payments["channel"].append(("counter", "wechat", "alipay", "bank_debit")[c % 4])
    rows["bills"], rows["payments"] = bills, payments

    tables = {}
    for table in TABLES:
        count = _write(raw, table, rows.get(table, {}))
        tables[table] = {"rows": count, "files": [f"{table}/{table}_export.parquet"]}
    manifest = {
        "extract_id": f"handbuilt-{first_month}-{months}m-{customers}",
        "extract_start": start.isoformat(),
        "extract_end": end.isoformat(),
        "tables": tables,
    }
    (raw / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return manifest


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)
