"""What a finished `powerseg run` tells the operator: the warnings it went on with, every failed
step and check with its failed expectations, and what to do next."""

from __future__ import annotations

import dagster as dg

from powerseg.contract import MANIFEST_FILE
from powerseg.quality import failure_lines
from powerseg.settings import Settings


def _only_warns(evaluation) -> bool:
    """A failed check that lets the run succeed: WARN severity, or a check that blocks nothing
    (the freshness of an old extract: its outputs are still consistent, only old)."""
    return evaluation.severity == dg.AssetCheckSeverity.WARN or evaluation.blocking is False


def run_warnings(result, settings: Settings | None = None) -> list[str]:
    """What let the run go on but deserves a look: WARN gates and factors skipped."""
    lines = []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and _only_warns(evaluation):
            summary = evaluation.metadata.get("summary")
            said = summary.value if summary is not None else evaluation.description
            text = f": {said}" if said else ""
            lines.append(
                f"check '{evaluation.check_name}' on {evaluation.asset_key.to_user_string()} "
                f"warned{text}"
            )
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        reason = metadata.get("skipped_reason")
        if reason is not None:
            lines.append(str(reason.value))
        unlisted = metadata.get("unlisted_files")
        if unlisted is not None and unlisted.value:
            lines.append(
                f"{event.asset_key.to_user_string()}: ignored {len(unlisted.value)} file(s) not "
                f"listed in {MANIFEST_FILE}: {', '.join(unlisted.value)}"
            )
        converted = metadata.get("converted_to_local_time")
        if converted is not None and converted.value != "none":
            zone = (settings or Settings.from_env()).source_timezone
            lines.append(
                f"{event.asset_key.to_user_string()}: {converted.value} delivered with a time "
                f"zone, loaded as {zone} local time"
            )
    return lines


def _failed_checks(result) -> list:
    return [e for e in result.get_asset_check_evaluations() if not e.passed and not _only_warns(e)]


def run_failures(result) -> list[str]:
    """Every failed step and check, each failed expectation of a check on its own line (table.
    column, what was observed, up to three offending keys), then what was not run."""
    lines = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        # Dagster wraps user errors; the innermost cause is the one that explains the failure.
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
            continue  # the failed checks are listed below, with what failed in them
        message = error.message.strip() if error else "unknown error"
        lines.append(f"step '{event.step_key}' failed: {message}")
    for evaluation in _failed_checks(result):
        severity = getattr(evaluation.severity, "value", evaluation.severity)
        summary = evaluation.metadata.get("summary")
        text = f": {summary.value}" if summary is not None else ""
        lines.append(
            f"check '{evaluation.check_name}' on {evaluation.asset_key.to_user_string()} "
            f"failed ({severity}){text}"
        )
        failures = evaluation.metadata.get("failures")
        if failures is not None:
            table = ".".join(evaluation.asset_key.path)
            lines += [f"    {line}" for line in failure_lines(table, failures.value)]
    # steps after a failure are never started in-process: everything without a start was not run
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    skipped = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"}
    skipped |= {node.name for node in result.job_def.nodes} - started
    if skipped:
        lines.append(f"not run because of the failures above: {', '.join(sorted(skipped))}")
    return lines


def next_step(result, settings: Settings) -> str:
    """The first line of a failed run's report: what to do about it."""
    raw = [e for e in _failed_checks(result) if e.asset_key.path[0] == "raw"]
    if raw:
        problems = 0
        for evaluation in raw:
            failures = evaluation.metadata.get("failures")
            problems += len(failures.value) if failures is not None else 1
        tables = len({e.asset_key for e in raw})
        return (
            f"what to do: the delivery in {settings.raw_dir} has {problems} problem(s) in "
            f"{tables} table(s), listed below; correct them in the source system and deliver the "
            "extract again (with a new _manifest.json), then run `powerseg run` again"
        )
    if _failed_checks(result):
        return (
            "what to do: a quality gate on the pipeline's own tables failed (below); read its "
            "failed expectations, fix the cause or the threshold (docs/runbook.md, section 5), "
            "then run the same month again"
        )
    return (
        "what to do: a step failed (below); fix its cause (the full log says more), then run the "
        "same command again"
    )
