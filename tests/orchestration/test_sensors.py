"""The landing sensor launches the month's run for a complete extract, once per extract, and skips
an incomplete one with the reason."""

import json
import shutil

import dagster as dg
import pyarrow.parquet as pq
import pytest

from orchestration.resources import LandingResource
from orchestration.sensors import EXTRACT_ID_TAG, JOB_NAME, landing_extract_sensor, run_key
from powerseg.contract import MANIFEST_FILE, TABLE_NAMES
from powerseg.landing import extract_status, manifest_extract_id


@pytest.fixture(scope="module")
def extract_template(tmp_path_factory):
    from simulator import simulate

    data_dir = tmp_path_factory.mktemp("landing_template")
    simulate(data_dir, customers=100, months=2, seed=3, progress=False)
    return data_dir / "raw"


@pytest.fixture
def raw_dir(extract_template, tmp_path):
    """A private copy of the complete extract that a test may break."""
    return shutil.copytree(extract_template, tmp_path / "raw")


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def evaluate(raw_dir, instance, cursor=None):
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"landing": LandingResource(raw_dir=str(raw_dir), truth_dir=str(raw_dir))},
    )
    result = landing_extract_sensor(context)
    return result, context.cursor


def manifest(raw_dir) -> dict:
    return json.loads((raw_dir / MANIFEST_FILE).read_text())


def write_manifest(raw_dir, content: dict) -> None:
    (raw_dir / MANIFEST_FILE).write_text(json.dumps(content, indent=2))


def test_complete_extract_launches_one_run_keyed_by_the_extract(raw_dir, instance):
    result, cursor = evaluate(raw_dir, instance)

    assert isinstance(result, dg.RunRequest)
    extract_id = manifest_extract_id(manifest(raw_dir))
    assert result.run_key == run_key(extract_id) == f"extract:{extract_id}"
    assert result.tags[EXTRACT_ID_TAG] == extract_id
    assert result.tags["powerseg/extract_end"] == manifest(raw_dir)["extract_end"]
    # the month's partition: the newest month the extract covers to its last day
    end = manifest(raw_dir)["extract_end"][:7]
    assert result.partition_key == f"{end}-01"
    assert result.tags["powerseg/as_of_month"] == end
    assert cursor == extract_id


def test_same_extract_is_not_launched_again(raw_dir, instance):
    first, cursor = evaluate(raw_dir, instance)
    assert isinstance(first, dg.RunRequest)

    again, _ = evaluate(raw_dir, instance, cursor=cursor)
    assert isinstance(again, dg.SkipReason)
    assert "already launched" in again.skip_message

    # Without the cursor the run key is the same, so the daemon's run-key dedupe still holds.
    no_cursor, _ = evaluate(raw_dir, instance)
    assert isinstance(no_cursor, dg.RunRequest)
    assert no_cursor.run_key == first.run_key


def test_extract_that_already_ran_is_skipped_even_after_a_cursor_reset(raw_dir, instance):
    extract_id = manifest_extract_id(manifest(raw_dir))

    @dg.op
    def noop():
        return None

    @dg.job(name=JOB_NAME)
    def stand_in():
        noop()

    stand_in.execute_in_process(instance=instance, tags={EXTRACT_ID_TAG: extract_id})

    result, _ = evaluate(raw_dir, instance, cursor=None)
    assert isinstance(result, dg.SkipReason)
    assert f"extract {extract_id} was already launched as run" in result.skip_message


def test_a_new_extract_launches_a_new_run(raw_dir, instance):
    first, cursor = evaluate(raw_dir, instance)
    content = manifest(raw_dir)
    content["extract_id"] = "utility-2026-11"
    write_manifest(raw_dir, content)

    second, new_cursor = evaluate(raw_dir, instance, cursor=cursor)

    assert isinstance(second, dg.RunRequest)
    assert second.run_key == "extract:utility-2026-11" != first.run_key
    assert new_cursor == "utility-2026-11"


def test_no_manifest_means_no_run(raw_dir, instance):
    (raw_dir / MANIFEST_FILE).unlink()

    result, cursor = evaluate(raw_dir, instance)

    assert isinstance(result, dg.SkipReason)
    assert "incomplete extract" in result.skip_message
    assert f"no {MANIFEST_FILE} yet" in result.skip_message
    assert cursor is None


def test_files_without_a_manifest_are_listed_in_the_skip_reason(raw_dir, instance):
    (raw_dir / MANIFEST_FILE).unlink()
    for f in (raw_dir / "outages").glob("*.parquet"):
        f.unlink()

    result, _ = evaluate(raw_dir, instance)

    assert isinstance(result, dg.SkipReason)
    assert "table files present: customers (customers/customers.parquet)" in result.skip_message
    assert "contract tables with no file: outages" in result.skip_message
    assert f"run `powerseg manifest {raw_dir}`" in result.skip_message


def test_a_stray_file_does_not_stop_a_complete_extract(raw_dir, instance):
    stray = raw_dir / "payments" / "payments_resend_old.parquet"
    shutil.copy(next((raw_dir / "payments").glob("*.parquet")), stray)

    result, _ = evaluate(raw_dir, instance)

    assert isinstance(result, dg.RunRequest)  # the loader ignores it and reports it
    assert extract_status(raw_dir).unlisted == {
        "payments": ("payments/payments_resend_old.parquet",)
    }


def test_manifest_listing_a_missing_file_means_no_run(raw_dir, instance):
    listed = manifest(raw_dir)["tables"]["meter_reads_daily"]["files"][-1]
    (raw_dir / listed).unlink()

    result, _ = evaluate(raw_dir, instance)

    assert isinstance(result, dg.SkipReason)
    assert "meter_reads_daily: files listed in the manifest are missing" in result.skip_message
    assert listed in result.skip_message


def test_manifest_row_count_not_matching_the_files_means_no_run(raw_dir, instance):
    content = manifest(raw_dir)
    actual = content["tables"]["bills"]["rows"]
    content["tables"]["bills"]["rows"] = actual + 5
    write_manifest(raw_dir, content)

    result, _ = evaluate(raw_dir, instance)

    assert isinstance(result, dg.SkipReason)
    assert f"bills: manifest says {actual + 5:,} rows, files hold {actual:,}" in result.skip_message


def test_manifest_without_a_table_or_a_count_or_with_a_half_written_file_is_incomplete(
    raw_dir, instance
):
    content = manifest(raw_dir)
    del content["tables"]["outages"]
    del content["tables"]["payments"]["rows"]
    write_manifest(raw_dir, content)
    half = raw_dir / content["tables"]["customers"]["files"][0]
    half.write_bytes(half.read_bytes()[:100])

    status = extract_status(raw_dir)

    assert not status.complete
    assert any("tables not in the manifest: outages" in p for p in status.problems)
    assert any(p.startswith("customers: a file is unreadable") for p in status.problems)
    assert "payments: the manifest gives no row count (tables.payments.rows)" in status.problems
    result, _ = evaluate(raw_dir, instance)
    assert isinstance(result, dg.SkipReason)


def test_complete_status_reads_row_counts_from_the_files(extract_template):
    status = extract_status(extract_template)

    assert status.complete, status.problems
    content = manifest(extract_template)
    assert set(content["tables"]) == set(TABLE_NAMES)
    bills_files = [extract_template / f for f in content["tables"]["bills"]["files"]]
    assert (
        sum(pq.read_metadata(f).num_rows for f in bills_files)
        == (content["tables"]["bills"]["rows"])
    )
    assert status.extract_id == manifest_extract_id(content)


def test_sensor_is_in_the_code_location_and_stopped_by_default():
    from orchestration.definitions import defs

    sensor = defs.resolve_sensor_def("landing_extract_sensor")
    assert sensor.job_name == JOB_NAME
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED


def test_landing_extract_records_the_extract_id_rows_and_data_version(extract_template):
    from orchestration.assets.sources import landing_extract

    landing = LandingResource(
        raw_dir=str(extract_template), truth_dir=str(extract_template), source="landing"
    )
    result = dg.materialize([landing_extract], resources={"landing": landing})

    (event,) = result.get_asset_materialization_events()
    materialization = event.materialization
    content = manifest(extract_template)
    extract_id = manifest_extract_id(content)
    assert materialization.metadata["extract_id"].value == extract_id
    assert materialization.metadata["dagster/row_count"].value == sum(
        t["rows"] for t in content["tables"].values()
    )
    assert materialization.tags["dagster/data_version"] == extract_id
