"""Freshness: is the extract in the landing folder recent enough, and were the outputs refreshed
recently? Limits come from the settings (POWERSEG_EXTRACT_MAX_AGE_DAYS, ..._OUTPUT_...).

Extract freshness is data time: the manifest's `extract_end` against a reference date. The
reference is POWERSEG_FRESHNESS_REFERENCE_DATE when set (replaying history, tests), the extract's
own end for a simulated extract (its dates are fixed and historical, so the demo counts as
delivered on time), and today otherwise. Output freshness is a last-update check: the newest
materialisation of every output asset must be younger than the limit.
"""

# No `from __future__ import annotations`: Dagster compares the context and config
# annotations as objects, and postponed annotations are strings.
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import dagster as dg

from orchestration.assets.sources import OWNER
from orchestration.resources import LandingResource
from powerseg.landing import LandingError, read_manifest
from powerseg.settings import Settings

CHECK_NAME = "freshness"
EXTRACT_KEY = dg.AssetKey(["landing", "extract"])
# Groups that hold inputs and intermediate steps, never outputs read by people.
NON_OUTPUT_GROUPS = frozenset({"sources", "staging", "intermediate", "rules"})


@dataclass(frozen=True)
class FreshnessVerdict:
    passed: bool
    description: str
    extract_end: date | None
    reference_date: date
    reference: str  # where the reference date came from
    age_days: int | None
    max_age_days: int


def reference_date(
    manifest: dict | None, configured: str | None, today: date | None = None
) -> tuple[date, str]:
    """The 'now' that extract freshness is measured against, and where it came from."""
    if configured:
        return date.fromisoformat(configured), "configured (POWERSEG_FRESHNESS_REFERENCE_DATE)"
    end = _as_date((manifest or {}).get("extract_end"))
    if manifest is not None and "seed" in manifest and end is not None:
        return end, "simulated extract: its own end date (fixed historical demo dates)"
    return today or datetime.now(UTC).date(), "today (UTC)"


def _as_date(value) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def judge_extract_freshness(
    manifest: dict | None,
    max_age_days: int,
    configured_reference: str | None = None,
    today: date | None = None,
) -> FreshnessVerdict:
    """Pass when the manifest's extract end is at most `max_age_days` before the reference."""
    ref, source = reference_date(manifest, configured_reference, today)
    end = _as_date((manifest or {}).get("extract_end"))
    if end is None:
        what = "no manifest" if manifest is None else "a manifest without a valid extract_end"
        return FreshnessVerdict(
            False,
            f"cannot tell how fresh the extract is: the landing folder has {what}",
            None,
            ref,
            source,
            None,
            max_age_days,
        )
    age = (ref - end).days
    if age > max_age_days:
        description = (
            f"extract is late: it ends {end.isoformat()}, {age} days before {ref.isoformat()} "
            f"({source}); at most {max_age_days} days are allowed "
            "(POWERSEG_EXTRACT_MAX_AGE_DAYS). The next month's extract has not landed."
        )
        return FreshnessVerdict(False, description, end, ref, source, age, max_age_days)
    description = (
        f"extract ends {end.isoformat()}, {age} days before {ref.isoformat()} ({source}); "
        f"limit {max_age_days} days"
    )
    return FreshnessVerdict(True, description, end, ref, source, age, max_age_days)


class ExtractFreshnessConfig(dg.Config):
    """A run may set them from the launchpad; unset, the settings decide when the check runs
    (POWERSEG_EXTRACT_MAX_AGE_DAYS, POWERSEG_FRESHNESS_REFERENCE_DATE)."""

    max_age_days: int | None = None
    reference_date: str | None = None


@dg.asset_check(
    asset=EXTRACT_KEY,
    name=CHECK_NAME,
    description=(
        "Fails when the extract is late: the manifest's extract_end is more than "
        "POWERSEG_EXTRACT_MAX_AGE_DAYS (default 32) days before the reference date (today; a "
        "simulated extract's own end; or POWERSEG_FRESHNESS_REFERENCE_DATE). Not blocking: an "
        "old extract still rebuilds consistent outputs, the check says they are old."
    ),
    metadata={"owner": OWNER},
)
def extract_freshness(
    context: dg.AssetCheckExecutionContext,
    config: ExtractFreshnessConfig,
    landing: LandingResource,
) -> dg.AssetCheckResult:
    try:
        manifest = read_manifest(landing.raw_dir)
    except LandingError as exc:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.ERROR, description=str(exc)
        )
    settings = Settings.from_env()
    configured = settings.freshness_reference_date
    verdict = judge_extract_freshness(
        manifest,
        settings.extract_max_age_days if config.max_age_days is None else config.max_age_days,
        config.reference_date or (configured.isoformat() if configured else None),
    )
    context.log.info(verdict.description)
    return extract_check_result(verdict)


def extract_check_result(verdict: FreshnessVerdict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=verdict.description,
        metadata={
            "extract_end": verdict.extract_end.isoformat() if verdict.extract_end else "unknown",
            "reference_date": verdict.reference_date.isoformat(),
            "reference": verdict.reference,
            "age_days": verdict.age_days if verdict.age_days is not None else -1,
            "max_age_days": verdict.max_age_days,
        },
    )


def output_asset_keys(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    """The ends of the lineage graph: assets nothing else reads, outside the input and
    intermediate groups. New output assets are covered as soon as they join the graph."""
    specs = {spec.key: spec for a in assets for spec in a.specs}
    upstream = {dep.asset_key for spec in specs.values() for dep in spec.deps}
    outputs = [
        key
        for key, spec in specs.items()
        if key not in upstream and spec.group_name not in NON_OUTPUT_GROUPS
    ]
    return sorted(outputs, key=lambda k: k.to_user_string())


def age_in_words(seconds: float) -> str:
    """'just now' under a minute, then minutes, hours or days: how long ago an output was built."""
    if seconds < 60:
        return f"just now ({seconds:.0f} s ago)"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    raise AssertionError("unreachable")


def judge_output_freshness(
    built_at: float | None, now: float, max_age_days: int
) -> tuple[bool, str, float | None]:
    """(passed, description, age in seconds) of an output last built at `built_at`."""
    if built_at is None:
        return False, "never built", None
    age = max(0.0, now - built_at)
    when = datetime.fromtimestamp(built_at, UTC).isoformat(timespec="seconds")
    if age > max_age_days * 86400:
        return (
            False,
            f"stale: last built {age_in_words(age)} ({when}), more than the {max_age_days} days "
            "allowed (POWERSEG_OUTPUT_MAX_AGE_DAYS); the monthly run has not rebuilt it",
            age,
        )
    return True, f"last built {age_in_words(age)} ({when}); limit {max_age_days} days", age


def output_freshness_checks(
    assets: Sequence[dg.AssetsDefinition], max_age_days: int | None = None
) -> Sequence[dg.AssetChecksDefinition]:
    """One check per output asset, all evaluated in one step: its newest materialisation (of any
    month) is at most `max_age_days` old. They run inside `powerseg run` and the monthly job (no
    daemon needed); the freshness sensor re-evaluates them between runs."""
    days = Settings.from_env().output_max_age_days if max_age_days is None else max_age_days
    keys = output_asset_keys(assets)

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                CHECK_NAME,
                asset=key,
                description=(
                    f"Fails when the output was last built more than {days} days ago "
                    "(POWERSEG_OUTPUT_MAX_AGE_DAYS)."
                ),
                metadata={"owner": OWNER},
            )
            for key in keys
        ],
        name="outputs_freshness",
        can_subset=True,
    )
    def outputs_freshness(context: dg.AssetCheckExecutionContext):
        now = datetime.now(UTC).timestamp()
        for check_key in sorted(context.selected_asset_check_keys, key=str):
            event = context.instance.get_latest_materialization_event(check_key.asset_key)
            built_at = event.timestamp if event is not None else None
            passed, description, age = judge_output_freshness(built_at, now, days)
            yield dg.AssetCheckResult(
                asset_key=check_key.asset_key,
                check_name=check_key.name,
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=description,
                metadata={
                    "age_hours": round(age / 3600, 2) if age is not None else -1,
                    "max_age_days": days,
                },
            )

    return [outputs_freshness]


def freshness_checks(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetChecksDefinition]:
    """Every freshness check of the code location: the extract's and the outputs'."""
    return [extract_freshness, *output_freshness_checks(assets)]


def freshness_sensor(checks: Sequence[dg.AssetChecksDefinition]) -> dg.SensorDefinition:
    """Re-evaluates the output freshness checks between runs (needs dagster-daemon), so stale
    outputs turn red in the UI even when nothing runs. Stopped by default."""
    outputs = [
        c
        for c in checks
        if c is not extract_freshness and c.node_def.name.endswith("outputs_freshness")
    ]
    job = dg.define_asset_job(
        "output_freshness_job",
        selection=dg.AssetSelection.checks(*outputs),
        description="Evaluates the output freshness checks, nothing else.",
    )

    @dg.sensor(
        name="output_freshness_sensor",
        job=job,
        minimum_interval_seconds=3600,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Every hour: are the outputs younger than POWERSEG_OUTPUT_MAX_AGE_DAYS?",
    )
    def output_freshness_sensor(context: dg.SensorEvaluationContext):
        hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
        return dg.RunRequest(run_key=f"output-freshness-{hour}")

    return output_freshness_sensor
