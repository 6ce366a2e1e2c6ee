"""An extract the simulator did not write: a few hundred customers over seven months of 2019,
written by hand with pyarrow (tests/handbuilt.py), with only the customer master, bills, payments
and daily reads filled. `powerseg run` builds it with no setting: its last complete month is the
default month, the factors without sources are skipped and said to be, and every active customer
is segmented, labelled and given actions. A month outside the extract is refused, naming the
months that exist."""

from __future__ import annotations

import pytest

from tests.conftest import DataFolder, landing_env, powerseg_cli, require_success
from tests.handbuilt import write_handbuilt_extract

pytestmark = pytest.mark.slow

SKIPPED = ("outage_sensitivity", "channel_activity", "inspection")


@pytest.fixture(scope="module")
def handbuilt_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("handbuilt")
    raw, data = folder / "landing" / "raw", folder / "data"
    write_handbuilt_extract(raw, customers=300, first_month="2019-01", months=7)
    data.mkdir()
    env = landing_env(data, raw)
    env.pop("POWERSEG_FIRST_AS_OF_MONTH", None)
    result = require_success(powerseg_cli("run", env=env))
    return DataFolder(data, raw, folder / "truth"), env, result


def test_the_2019_extract_runs_with_no_setting_and_names_what_it_skipped(handbuilt_run):
    _, _, result = handbuilt_run
    assert "powerseg run succeeded for 2019-07" in result.stdout
    for factor in SKIPPED:
        assert f"{factor} skipped: raw." in result.stderr
    # an extract of 2019 is old, which the freshness check says without failing the run
    assert "check 'freshness' on landing/extract warned: extract is late" in result.stderr


def test_every_active_customer_is_segmented_with_actions(handbuilt_run):
    folder, _, _ = handbuilt_run
    with folder.connect() as con:
        active = con.execute(
            "select count(*) from marts.customer_360 where as_of_month = date '2019-07-01'"
        ).fetchone()[0]
        counts = con.execute(
            """
            select
                (select count(distinct customer_id) from outputs.customer_segments
                 where as_of_month = date '2019-07-01'),
                (select count(distinct customer_id) from outputs.customer_service_actions
                 where as_of_month = date '2019-07-01'),
                (select count(distinct customer_id) from outputs.customer_labels
                 where as_of_month = date '2019-07-01')
            """
        ).fetchone()
        tiers = dict(
            con.execute(
                """
                select 'outage', count(*) filter (where outage_sensitivity_tier = 'not_scored')
                from marts.customer_factor_scores where as_of_month = date '2019-07-01'
                union all
                select 'digital', count(*) filter (where digital_tier = 'not_scored')
                from marts.customer_factor_scores where as_of_month = date '2019-07-01'
                union all
                select 'arrears_scored', count(arrears_score)
                from marts.customer_factor_scores where as_of_month = date '2019-07-01'
                """
            ).fetchall()
        )
    assert active == 300
    assert counts == (300, 300, 300)
    # the skipped factors say so in every column they feed; arrears was trained and scored
    assert tiers == {"outage": 300, "digital": 300, "arrears_scored": 300}


def test_a_month_outside_the_extract_is_refused_naming_the_months(handbuilt_run):
    _, env, _ = handbuilt_run
    refused = powerseg_cli("run", "--as-of", "2024-01", env=env)
    assert refused.returncode == 2
    assert "as-of month 2024-01 is not a partition" in refused.stderr
    assert "the months that exist run from 2019-05 to 2019-07" in refused.stderr
