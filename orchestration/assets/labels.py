"""The labels stage: the customer portrait as label sets, one row per customer and label carried
this month, from the label_registry seed.
"""

import datetime as dt
import time

import dagster as dg

from ml.labels import evaluate_labels, label_frequencies
from orchestration.assets.monthly import (
    LABEL_REGISTRY,
    MONTHLY_WRITER,
    each_month,
    output_key,
    preview,
    read_seed,
)
from orchestration.assets.rule_inputs import PORTRAIT_DEPS, portrait_frame, rule_inputs
from orchestration.owners import CUSTOMER_INSIGHT
from orchestration.resources import WarehouseResource
from powerseg.warehouse import write_month


@dg.asset(
    key=output_key("customer_labels"),
    deps=[*PORTRAIT_DEPS, LABEL_REGISTRY],
    group_name="labels",
    kinds={"duckdb"},
    owners=[CUSTOMER_INSIGHT],
    **MONTHLY_WRITER,
    description=(
        "The customer portrait: one row per customer and label carried this month (basic, "
        "consumption, payment, service, value, risk), from the label_registry seed, with a score "
        "and the date the label expires. Every month is kept; a re-run replaces only its month."
    ),
)
def customer_labels(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from each_month(context, lambda month: _customer_labels_month(month, warehouse))


def _customer_labels_month(month: dt.date, warehouse: WarehouseResource):
    started = time.perf_counter()
    with warehouse.connect(read_only=True) as con:
        registry = read_seed(con, "label_registry")
        frame = portrait_frame(con, month, rule_inputs(label_registry=registry))
    labels = evaluate_labels(frame, registry)
    with warehouse.connect() as con:
        written = write_month(con, "customer_labels", labels, month)
    counts = label_frequencies(labels, registry, n_customers=len(frame))
    flags = counts[counts["value"] == "true"].sort_values("share", ascending=False)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "as_of_month": str(month),
            "customers": len(frame),
            "labels_in_registry": len(registry),
            "labels_per_customer": round(written / max(len(frame), 1), 2),
            # labels whose rule gave them to more customers than the registry's max_share allows
            "labels_capped": dg.MetadataValue.json(
                {
                    code: {"by_rule": by_rule, "kept": kept}
                    for code, (by_rule, kept) in labels.attrs.get("capped", {}).items()
                }
            ),
            "seconds": round(time.perf_counter() - started, 2),
            "yes_no_label_shares": dg.MetadataValue.md(
                flags[["dimension", "label_code", "customers", "share"]]
                .round(4)
                .to_markdown(index=False)
            ),
            "preview": preview(labels),
        }
    )
