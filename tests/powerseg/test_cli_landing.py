"""The command line never touches a delivery: a landing folder without a manifest is left
byte-identical by `powerseg run` and `powerseg simulate`, a mistyped --data-dir is an error,
`powerseg manifest` finishes a delivery, and the run loads exactly the files it lists."""

import hashlib
import json
import os
from datetime import date

import dagster as dg
import duckdb
import pytest

from orchestration.resources import LandingResource
from powerseg.contract import MANIFEST_FILE, TABLE_NAMES
from powerseg.landing import extract_status
from powerseg.manifest import write_manifest
from simulator import SIMULATOR_MARKER, ForeignFolderError, simulate
from tests.conftest import powerseg_cli
from tests.powerseg.test_landing import write_table
from tests.quality.conftest import write_clean_extract

STRAY = "payments/payments_resend_old.parquet"


def digests(root) -> dict[str, str]:
    """Every file under root (and every folder, as None), with its content hash."""
    return {
        p.relative_to(root).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
        )
        for p in sorted(root.rglob("*"))
    }


def cli_env(data_dir) -> dict[str, str]:
    """A clean environment: only the data folder is set, every other location is its default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERSEG_", "DAGSTER_"))}
    env.pop("MLFLOW_TRACKING_URI", None)
    env["POWERSEG_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture
def delivery(tmp_path):
    """A delivery in progress: customers, bills, payments and reads landed, no manifest yet."""
    data = tmp_path / "data"
    for table in ("customers", "bills", "payments", "meter_reads_daily"):
        write_table(data / "raw", table, rows=3)
    (data / "raw" / "bills" / "_SUCCESS").write_text("")
    return data


def test_run_leaves_a_delivery_without_manifest_byte_identical(delivery):
    before = digests(delivery)

    result = powerseg_cli("run", "--data-dir", str(delivery), env=cli_env(delivery))

    assert result.returncode == 2, result.stderr
    raw = delivery / "raw"
    assert f"no complete extract in the landing folder {raw}:" in result.stderr
    assert f"no {MANIFEST_FILE} yet (the producer writes it last)" in result.stderr
    assert (
        "table files present: customers (customers/part-0.parquet); meter_reads_daily "
        "(meter_reads_daily/part-0.parquet); bills (bills/part-0.parquet); payments "
        "(payments/part-0.parquet)" in result.stderr
    )
    missing = [t for t in TABLE_NAMES if t not in ("customers", "bills", "payments")]
    missing.remove("meter_reads_daily")
    assert f"contract tables with no file: {', '.join(missing)}" in result.stderr
    assert "other entries: bills/_SUCCESS" in result.stderr
    assert f"run `powerseg manifest {raw}`" in result.stderr
    assert digests(delivery) == before  # no file changed, none added (no warehouse, no instance)


def test_demo_run_and_simulate_leave_a_delivery_byte_identical(delivery):
    before = digests(delivery)

    demo = powerseg_cli("run", "--demo", "--data-dir", str(delivery), env=cli_env(delivery))
    simulated = powerseg_cli(
        "simulate", "--customers", "100", "--months", "1", "--out", str(delivery), "--quiet",
        env=cli_env(delivery),
    )  # fmt: skip

    assert demo.returncode == 2, demo.stderr
    assert f"no {MANIFEST_FILE} yet" in demo.stderr
    assert "The demo is not simulated here: " in demo.stderr
    assert simulated.returncode == 2, simulated.stderr
    assert f"error: {delivery / 'raw'} already holds files the simulator did not write" in (
        simulated.stderr
    )
    assert "bills/_SUCCESS" in simulated.stderr and "refusing to touch them" in simulated.stderr
    assert digests(delivery) == before


def test_simulate_refuses_a_truth_folder_it_did_not_write(tmp_path):
    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "labels.csv").write_text("customer_id,label\n")
    with pytest.raises(ForeignFolderError, match="truth already holds files"):
        simulate(tmp_path, customers=100, months=1, progress=False)
    assert not (tmp_path / "raw").exists()


def test_resimulating_replaces_only_the_simulators_own_files(tmp_path):
    simulate(tmp_path, customers=100, months=2, progress=False)
    stray = tmp_path / "raw" / STRAY
    stray.write_bytes(b"not the simulator's")

    manifest = simulate(tmp_path, customers=100, months=1, progress=False)

    reads = sorted(p.name for p in (tmp_path / "raw" / "meter_reads_daily").iterdir())
    assert reads == ["2026-10.parquet"]  # its own older month is gone
    assert stray.read_bytes() == b"not the simulator's"  # a file it did not write is kept
    assert manifest["producer"] == "simulator"
    marker = json.loads((tmp_path / "raw" / SIMULATOR_MARKER).read_text())
    assert STRAY not in marker["files"] and "meter_reads_daily/2026-10.parquet" in marker["files"]


@pytest.mark.parametrize(
    "command",
    [
        ("run",),
        ("run", "--as-of", "2026-10"),
        ("backfill", "--from", "2026-09", "--to", "2026-10"),
        ("summary",),
        ("prepare",),
    ],
)
def test_a_mistyped_data_dir_is_an_error(tmp_path, command):
    typo = tmp_path / "dat"
    result = powerseg_cli(*command, "--data-dir", str(typo), env=cli_env(tmp_path / "data"))

    assert result.returncode == 2, result.stderr
    assert f"error: --data-dir {typo} does not exist" in result.stderr
    assert not typo.exists()


def test_summary_without_a_warehouse_fails(tmp_path):
    result = powerseg_cli("summary", "--data-dir", str(tmp_path), env=cli_env(tmp_path))

    assert result.returncode == 1
    assert f"error: no warehouse in {tmp_path}" in result.stderr


def test_run_on_an_empty_folder_says_how_to_get_an_extract(tmp_path):
    result = powerseg_cli("run", "--data-dir", str(tmp_path), env=cli_env(tmp_path))

    assert result.returncode == 2
    assert f"the landing folder {tmp_path / 'raw'} does not exist" in result.stderr
    assert "`powerseg run --demo`" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_manifest_refuses_to_overwrite_without_force(tmp_path):
    raw = tmp_path / "raw"
    write_clean_extract(raw)
    (raw / "bills" / "_SUCCESS").write_text("")
    first = powerseg_cli("manifest", str(raw), env=cli_env(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "  customers                       200 rows in 1 file(s)" in first.stdout
    assert "not listed (not table Parquet files): bills/_SUCCESS" in first.stdout
    before = (raw / MANIFEST_FILE).read_bytes()

    again = powerseg_cli("manifest", str(raw), env=cli_env(tmp_path))
    forced = powerseg_cli("manifest", str(raw), "--force", env=cli_env(tmp_path))

    assert again.returncode == 2
    assert f"error: {raw / MANIFEST_FILE} already exists (written by powerseg manifest)" in (
        again.stderr
    )
    assert forced.returncode == 0 and (raw / MANIFEST_FILE).read_bytes() == before


def test_a_row_count_that_disagrees_with_the_manifest_stops_the_run(tmp_path):
    raw = tmp_path / "raw"
    write_clean_extract(raw)
    assert powerseg_cli("manifest", str(raw), env=cli_env(tmp_path)).returncode == 0
    manifest = json.loads((raw / MANIFEST_FILE).read_text())
    found = manifest["tables"]["bills"]["rows"]
    manifest["tables"]["bills"]["rows"] = found + 12
    (raw / MANIFEST_FILE).write_text(json.dumps(manifest))

    result = powerseg_cli("run", "--data-dir", str(tmp_path), env=cli_env(tmp_path))

    assert result.returncode == 2
    assert f"bills: manifest says {found + 12:,} rows, files hold {found:,}" in result.stderr
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_landing_extract_simulates_the_demo_only_into_an_empty_folder(tmp_path):
    def materialize(data_dir, source):
        landing = LandingResource(
            raw_dir=str(data_dir / "raw"),
            truth_dir=str(data_dir / "truth"),
            source=source,
            sim_customers=100,
            sim_months=1,
        )
        from orchestration.assets.sources import landing_extract

        return dg.materialize(
            [landing_extract], resources={"landing": landing}, raise_on_error=False
        )

    empty = tmp_path / "empty"
    (empty / "raw").mkdir(parents=True)
    not_demo = materialize(empty, "landing")
    assert not not_demo.success and list((empty / "raw").iterdir()) == []

    demo = materialize(empty, "simulator")
    assert demo.success
    (event,) = demo.get_asset_materialization_events()
    assert event.materialization.metadata["simulated_now"].value is True
    assert extract_status(empty / "raw").complete

    delivery = tmp_path / "delivery"
    write_table(delivery / "raw", "customers")
    before = digests(delivery)
    refused = materialize(delivery, "simulator")
    assert not refused.success
    (failure,) = refused.get_step_failure_events()
    message = failure.step_failure_data.error.message
    assert "no _manifest.json yet" in message and "The demo is not simulated here" in message
    assert digests(delivery) == before


@pytest.mark.slow
def test_manifest_then_run_loads_exactly_the_listed_files(tmp_path):
    raw = tmp_path / "raw"
    write_clean_extract(raw)
    written = powerseg_cli("manifest", str(raw), env=cli_env(tmp_path))
    assert written.returncode == 0, written.stderr
    assert f"wrote {raw / MANIFEST_FILE}: extract " in written.stdout
    manifest = json.loads((raw / MANIFEST_FILE).read_text())
    assert manifest["extract_end"] == "2026-10-31"
    # an old resend lands after the manifest: not part of the delivery
    write_table(raw, "payments", rows=5, file="payments_resend_old.parquet")

    result = powerseg_cli("run", "--as-of", "2026-10", "--data-dir", str(tmp_path),
                          env=cli_env(tmp_path))  # fmt: skip

    # the load succeeded (what the tiny extract does further down is not this test's concern)
    assert "step 'raw_tables' failed" not in result.stderr, result.stderr[-3000:]
    assert "warnings (the run went on):" in result.stderr, result.stderr[-3000:]
    assert (
        f"raw/payments: ignored 1 file(s) not listed in {MANIFEST_FILE}: {STRAY}" in result.stderr
    )
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        for table, entry in manifest["tables"].items():
            rows = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
            assert rows == entry["rows"], table
        files = con.execute("select list(distinct _source_file) from raw.payments").fetchone()[0]
    assert files == manifest["tables"]["payments"]["files"]


def materialize_raw(raw, data_dir):
    """Materialise the landing extract and the raw tables in-process, as the UI does."""
    from orchestration.assets.sources import landing_extract, raw_tables
    from orchestration.resources import build_resources
    from powerseg.settings import Settings

    settings = Settings.from_env({"POWERSEG_DATA_DIR": str(data_dir), "POWERSEG_RAW_DIR": str(raw)})
    return dg.materialize(
        [landing_extract, raw_tables],
        resources=build_resources(settings),
        raise_on_error=False,
    )


def test_ui_materialisation_reports_unlisted_files_and_refuses_a_wrong_count(tmp_path):
    raw = tmp_path / "landing"
    write_clean_extract(raw)
    manifest, _ = write_manifest(raw)
    write_table(raw, "payments", rows=5, file="payments_resend_old.parquet")

    result = materialize_raw(raw, tmp_path)

    assert result.success
    metadata = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert metadata["raw/payments"]["unlisted_files"].value == [STRAY]
    assert metadata["raw/bills"]["unlisted_files"].value == []
    assert (
        metadata["raw/payments"]["dagster/row_count"].value
        == (manifest["tables"]["payments"]["rows"])
    )

    found = manifest["tables"]["customers"]["rows"]
    manifest["tables"]["customers"]["rows"] = found - 1
    (raw / MANIFEST_FILE).write_text(json.dumps(manifest))
    refused = materialize_raw(raw, tmp_path)

    assert not refused.success
    (failure,) = refused.get_step_failure_events()
    assert failure.step_key == "raw_tables"
    error = failure.step_failure_data.error
    while error.cause is not None:
        error = error.cause
    assert f"customers: manifest says {found - 1:,} rows, files hold {found:,}" in error.message


def test_backfill_newest_takes_the_newest_complete_months_of_the_delivery(tmp_path, monkeypatch):
    from powerseg_cli.instance import command_settings
    from powerseg_cli.main import build_parser
    from powerseg_cli.run import _run_months, _shift_month, newest_complete_month

    data = tmp_path / "data"
    write_clean_extract(data / "raw")
    manifest, _ = write_manifest(data / "raw", extract_start=date(2025, 1, 1))
    for key, value in cli_env(data).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POWERSEG_SOURCE", "landing")
    settings = command_settings(str(data))
    newest = newest_complete_month(settings)
    assert newest <= manifest["extract_end"][:7]

    args = build_parser().parse_args(["backfill", "--data-dir", str(data), "--newest", "3"])
    start, end = _run_months(args, settings)

    assert end == f"{newest}-01"
    assert start == f"{_shift_month(newest, -2)}-01"
    parser = build_parser()
    for bad in (["--newest", "0"], ["--newest", "2", "--from", newest], []):
        with pytest.raises(SystemExit):
            parser.parse_args(["backfill", *bad])
    too_many = parser.parse_args(["backfill", "--newest", "40"])
    with pytest.raises(ValueError, match="is not a partition: the months that exist run from"):
        _run_months(too_many, settings)
    with pytest.raises(ValueError, match="--to goes with --from"):
        _run_months(parser.parse_args(["backfill", "--newest", "2", "--to", newest]), settings)
