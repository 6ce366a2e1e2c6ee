"""The landing sensor: launches `monthly_refresh` when a complete extract lands in the landing
folder, exactly once per extract (run key and cursor both carry the extract id).
"""

# No `from __future__ import annotations`: Dagster compares the context annotation as an object.
import dagster as dg

from orchestration.partitions import key_of_month
from orchestration.resources import LandingResource
from powerseg.landing import extract_status

SENSOR_NAME = "landing_extract_sensor"
JOB_NAME = "monthly_refresh"
EXTRACT_ID_TAG = "powerseg/extract_id"


def run_key(extract_id: str) -> str:
    return f"extract:{extract_id}"


@dg.sensor(
    name=SENSOR_NAME,
    job_name=JOB_NAME,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Watches the landing folder (POWERSEG_RAW_DIR) and launches monthly_refresh when a "
        "complete extract lands: its _manifest.json is there and every file and row count it "
        "lists is present. Never launches twice for one extract (run key = extract id). Stopped "
        "by default; start it with dagster-daemon running (docs/runbook.md)."
    ),
)
def landing_extract_sensor(context: dg.SensorEvaluationContext, landing: LandingResource):
    # The loader's own check (powerseg.landing.extract_status): the sensor launches only what
    # `raw_tables` will load.
    status = extract_status(landing.raw_dir)
    if not status.complete:
        return dg.SkipReason(status.describe())
    for line in status.unlisted_lines():
        context.log.warning(line)
    extract_id = status.extract_id
    if context.cursor == extract_id:
        return dg.SkipReason(f"extract {extract_id} was already launched; waiting for a new one")
    # The cursor can be reset from the UI; the instance still knows which extracts ran.
    earlier = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=JOB_NAME, tags={EXTRACT_ID_TAG: extract_id}), limit=1
    )
    context.update_cursor(extract_id)
    if earlier:
        return dg.SkipReason(
            f"extract {extract_id} was already launched as run {earlier[0].run_id}"
        )
    manifest = status.manifest
    month = status.last_complete_month
    try:
        partition_key = key_of_month(month)
    except ValueError as exc:
        return dg.SkipReason(f"extract {extract_id}: {exc}")
    return dg.RunRequest(
        run_key=run_key(extract_id),
        partition_key=partition_key,
        tags={
            EXTRACT_ID_TAG: extract_id,
            "powerseg/extract_end": str(manifest.get("extract_end")),
            "powerseg/as_of_month": month,
        },
    )
