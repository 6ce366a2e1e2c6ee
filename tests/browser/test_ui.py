"""The Dagster and MLflow UIs, in headless Chromium, on the session's monthly runs plus a load whose
blocking gate fails: the lineage shows every group, a materialisation and a failed blocking gate
are visible, and MLflow shows the five experiments and their champion models. Screenshots go to
data/test-artifacts/.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from ml.registry import FACTORS

# Beside the session's monthly runs, whose runs and models the UIs show.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("pipeline")]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTIFACTS = REPO / "data" / "test-artifacts"
CORE_GROUPS = {"sources", "staging", "intermediate", "marts", "factor_models", "rules"}
# On a loaded machine the code location takes minutes to import (Dagster waits 180 s).
DAGSTER_YAML = """\
telemetry:
  enabled: false
code_servers:
  local_startup_timeout: 900
"""
UI_TIMEOUT_MS = 120_000


@dataclass
class UiInstance:
    data_dir: Path
    env: dict[str, str]
    shots: Path
    dagster_url: str = ""
    mlflow_url: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(data_dir: Path, dagster_home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POWERSEG_", "DAGSTER_", "MLFLOW_"))
    }
    env.update(POWERSEG_DATA_DIR=str(data_dir), DAGSTER_HOME=str(dagster_home))
    return env


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # Own session: teardown stops the server with its children (code server, uvicorn workers).
    with log.open("w") as out:
        return subprocess.Popen(
            cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url} server exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())["data"]


LOCATION_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
RELOAD = """mutation { reloadRepositoryLocation(repositoryLocationName: "powerseg") {
  __typename ... on WorkspaceLocationEntry { locationOrLoadError { __typename
  ... on PythonError { message } } } } }"""


def _wait_code_location(base: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = _graphql(base, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        entry = next(e for e in entries if e["name"] == "powerseg")
        if entry["loadStatus"] == "LOADED":
            loaded = entry["locationOrLoadError"]
            if loaded["__typename"] == "RepositoryLocation":
                return
            # e.g. a code-server start that timed out while the runs took the CPU: try again.
            result = _graphql(base, RELOAD)["reloadRepositoryLocation"]
            if result.get("locationOrLoadError", {}).get("__typename") == "RepositoryLocation":
                return
        time.sleep(2)
    raise AssertionError(f"the powerseg code location did not load: {entry}")


def break_bills(raw_dir: Path) -> int:
    """Make a fifth of the bills negative: the table still loads, its blocking gate fails."""
    broken = 0
    for path in sorted((raw_dir / "bills").glob("*.parquet")):
        table = pq.read_table(path)
        kwh = table.column("kwh").to_numpy(zero_copy_only=False)
        negative = np.arange(len(kwh)) % 5 == 0
        column = pa.array(np.where(negative, -np.abs(kwh) - 1.0, kwh))
        table = table.set_column(table.schema.get_field_index("kwh"), "kwh", column)
        pq.write_table(table, path)
        broken += int(negative.sum())
    return broken


def chromium_executable() -> str:
    """Debian's chromium, installed with apt-get when running as root and it is missing."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and this user cannot apt-get install it")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            pytest.skip(f"could not install chromium ({' '.join(cmd)}): {proc.stderr[-500:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get installed chromium but no chromium executable is on PATH")
    return found


def load_broken_extract(raw_dir: Path, data_dir: Path, dagster_home: Path):
    """Load `raw_dir` and run its raw gates, in this process, into the instance at `dagster_home`
    (a warehouse of its own under `data_dir`); the blocking gate of the broken bills fails."""
    from orchestration.assets.sources import landing_extract, raw_tables
    from orchestration.definitions import ASSET_CHECKS, ASSETS
    from orchestration.resources import build_resources
    from powerseg.settings import Settings

    settings = Settings.from_env(
        {"POWERSEG_DATA_DIR": str(data_dir), "POWERSEG_RAW_DIR": str(raw_dir),
         "POWERSEG_SOURCE": "landing"}
    )  # fmt: skip
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        return dg.materialize(
            [*ASSETS, *ASSET_CHECKS],
            selection=dg.AssetSelection.assets(landing_extract, raw_tables),
            resources=build_resources(settings),
            instance=instance,
            raise_on_error=False,
        )


@pytest.fixture(scope="module")
def instance(pipeline_run, tmp_path_factory):
    """The session pipeline's Dagster instance (copied, so the UI gets its own settings and the
    broken load lands beside the monthly runs) and its MLflow store, plus a load of a broken copy
    of the extract whose blocking gate fails and which writes nothing of the pipeline's. To stay
    quick the UIs start first and load meanwhile."""
    root = tmp_path_factory.mktemp("ui_instance")
    shots = root / "screenshots"
    shots.mkdir()
    dagster_home = root / "dagster"
    shutil.copytree(pipeline_run.data_dir / "dagster", dagster_home)
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)
    env = _clean_env(pipeline_run.data_dir, dagster_home)
    inst = UiInstance(pipeline_run.data_dir, env, shots)
    started = time.monotonic()

    port, mlflow_port = _free_port(), _free_port()
    log, mlflow_log = root / "dagster-webserver.log", root / "mlflow-ui.log"
    try:
        inst.processes.append(
            _start(
                [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1"]
                + ["-p", str(port)],
                env,
                log,
            )
        )
        mlflow = _start(
            [str(BIN / "mlflow"), "ui", "--backend-store-uri"]
            + [f"sqlite:///{pipeline_run.data_dir / 'mlflow' / 'mlflow.db'}"]
            + ["--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1"],
            env,
            mlflow_log,
        )
        inst.processes.append(mlflow)

        broken_raw = root / "broken" / "raw"
        shutil.copytree(pipeline_run.raw_dir, broken_raw)
        assert break_bills(broken_raw) > 0
        broken = load_broken_extract(broken_raw, root / "broken", dagster_home)
        assert not broken.success
        failed = [
            e.asset_key.to_user_string()
            for e in broken.get_asset_check_evaluations()
            if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
        ]
        assert failed == ["raw/bills"], failed
        inst.timings["broken load"] = time.monotonic() - started

        mark = time.monotonic()
        inst.dagster_url = f"http://127.0.0.1:{port}"
        _wait_http(f"{inst.dagster_url}/server_info", inst.processes[0], log)
        _wait_code_location(inst.dagster_url)
        inst.mlflow_url = f"http://127.0.0.1:{mlflow_port}"
        _wait_http(f"{inst.mlflow_url}/health", mlflow, mlflow_log)
        inst.timings["UIs ready after the load"] = time.monotonic() - mark
        inst.timings["instance total"] = time.monotonic() - started
        yield inst
    finally:
        for proc in inst.processes:
            _stop(proc)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "ui_timings.json").write_text(json.dumps(inst.timings, indent=2) + "\n")


def launch_chromium(playwright):
    """Debian's chromium, headless (skips the test with the reason when it cannot start)."""
    executable = chromium_executable()
    try:
        return playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
    except PlaywrightError as exc:
        pytest.skip(f"headless Chromium ({executable}) could not start: {exc}")


@pytest.fixture(scope="module")
def page(instance):
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(UI_TIMEOUT_MS)
        yield page
        browser.close()


def _dismiss_dagster_welcome(page) -> None:
    """The first visit may open a 'Join the Dagster community' dialog over the page."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.first.wait_for(state="visible", timeout=5_000)
    except PlaywrightTimeout:
        return
    skip.first.click()
    skip.first.wait_for(state="hidden")


def _dismiss_mlflow_dialog(page) -> None:
    """MLflow announces UI features in a modal dialog on the first visit."""
    dialog = page.get_by_role("dialog")
    try:
        dialog.first.wait_for(state="visible", timeout=5_000)
    except PlaywrightTimeout:
        return
    page.keyboard.press("Escape")
    try:
        dialog.first.wait_for(state="hidden", timeout=5_000)
    except PlaywrightTimeout:
        dialog.first.get_by_role("button", name="Close").first.click()


def screenshot(page, instance: UiInstance, name: str) -> Path:
    path = instance.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)
    return path


def test_asset_graph_shows_every_group(instance, page):
    nodes = _graphql(instance.dagster_url, "{ assetNodes { groupName } }")["assetNodes"]
    groups = {n["groupName"] for n in nodes}
    assert groups >= CORE_GROUPS

    page.goto(f"{instance.dagster_url}/asset-groups")
    page.get_by_text("Global asset lineage").wait_for()
    page.wait_for_timeout(1500)
    _dismiss_dagster_welcome(page)
    for group in sorted(groups):
        expect_visible(page.get_by_text(group, exact=True).first, group)
    path = screenshot(page, instance, "dagster_asset_graph")
    assert path.stat().st_size > 10_000


def test_materialisation_with_row_count_and_model_version_is_visible(instance, page):
    page.goto(f"{instance.dagster_url}/assets/scores/arrears_scores")
    page.get_by_text("Latest materialization").wait_for()
    _dismiss_dagster_welcome(page)
    page.get_by_text("Row count").first.wait_for()
    page.get_by_text(re.compile(r"powerseg_arrears v\d+")).first.wait_for()
    body = page.inner_text("body")
    assert "mlflow_run" in body and "promoted_to_champion" in body
    screenshot(page, instance, "dagster_materialization")


def test_failed_blocking_check_is_visible(instance, page):
    page.goto(f"{instance.dagster_url}/assets/raw/bills?view=checks")
    page.get_by_text("This is a blocking asset check.").wait_for()
    _dismiss_dagster_welcome(page)
    page.get_by_text("quality_gate").first.wait_for()
    page.get_by_text("Failed").first.wait_for()
    body = page.inner_text("body")
    assert "expectations failed" in body and "error" in body
    screenshot(page, instance, "dagster_failed_check")


def test_mlflow_shows_five_experiments_and_champion_models(instance, page):
    page.goto(f"{instance.mlflow_url}/#/experiments")
    for factor in FACTORS:
        page.get_by_text(f"powerseg-{factor}", exact=True).first.wait_for()
    _dismiss_mlflow_dialog(page)
    screenshot(page, instance, "mlflow_experiments")

    page.goto(f"{instance.mlflow_url}/#/models")
    for factor in FACTORS:
        page.get_by_text(f"powerseg_{factor}", exact=True).first.wait_for()
    _dismiss_mlflow_dialog(page)
    screenshot(page, instance, "mlflow_models")
    # The list shows the aliases of each model's newest version; a model's own page shows the
    # version its champion alias points at. The unsupervised models always have one (a supervised
    # one only once a version passed the quality floors); MLflow's own API says which.
    client = MlflowClient(tracking_uri=f"sqlite:///{instance.data_dir / 'mlflow' / 'mlflow.db'}")
    champion = client.get_model_version_by_alias("powerseg_contribution", "champion").version
    page.goto(f"{instance.mlflow_url}/#/models/powerseg_contribution")
    page.reload()  # moving between pages inside the app can leave the versions table empty
    row = page.get_by_role("row").filter(has_text=f"Version {champion}")
    row.get_by_text("champion").first.wait_for()
    screenshot(page, instance, "mlflow_champion")


def expect_visible(locator, what: str) -> None:
    locator.wait_for(state="visible")
    assert locator.is_visible(), f"{what} is not visible"
