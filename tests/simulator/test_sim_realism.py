"""The hidden traits show through in the raw tables, with noise, as the factor models will need.

Each test measures one planted relationship on the session extract and asserts its size.
"""

from __future__ import annotations

from .conftest import CUSTOMERS


def one(db, sql: str):
    return db.execute(sql).fetchone()[0]


def quartile_pair(db, sql: str) -> tuple[float, float]:
    """(bottom, top) quartile values from a query returning (quartile, value) rows."""
    rows = dict(db.execute(sql).fetchall())
    return rows[1], rows[4]


# Bill settlement: when the running payments first cover the amount (NULL = still open).
SETTLED = """
    SELECT b.customer_id, b.bill_month, b.amount, b.due_date, min(p.paid_at) FILTER (
        WHERE p.cum >= b.amount - 0.005) AS settled_at
    FROM bills b LEFT JOIN (
        SELECT *, sum(amount) OVER (PARTITION BY customer_id, bill_month ORDER BY paid_at)
            AS cum FROM payments
    ) p USING (customer_id, bill_month)
    GROUP BY ALL
"""
# Customers exposed to each outage (feeder- or transformer-level) while supplied.
EXPOSED = """
    SELECT s.customer_id, o.outage_id, o.start_at, o.planned
    FROM outages o JOIN supply_topology s
      ON o.feeder_id = s.feeder_id OR o.transformer_id = s.transformer_id
    JOIN customers c ON c.customer_id = s.customer_id AND c.open_date <= o.start_at::DATE
"""
TAMPER = "('cover_open', 'reverse_energy', 'phase_loss', 'current_imbalance')"


def quartiles(trait: str) -> str:
    """customer_id -> q (1..4) by a hidden trait, one quartile per customer."""
    return f"SELECT customer_id, ntile(4) OVER (ORDER BY {trait}, customer_id) AS q FROM truth"


MIX = """
    SELECT
        avg((customer_type = 'residential')::INT) AS residential_share,
        avg((customer_type = 'commercial')::INT) AS commercial_share,
        count(DISTINCT customer_type) AS types,
        count(*) FILTER (WHERE importance_grade = 'special') AS special,
        count(*) FILTER (WHERE importance_grade = 'first') AS first,
        count(*) FILTER (WHERE importance_grade = 'second') AS second,
        count(*) FILTER (WHERE importance_grade <> 'none' AND customer_type = 'residential')
            AS important_residents,
        count(*) FILTER (WHERE key_enterprise_flag) AS key_enterprises,
        count(*) FILTER (WHERE is_community_account) AS communities,
        count(*) FILTER (WHERE is_community_account AND households NOT BETWEEN 50 AND 3000)
            AS odd_households,
        count(*) FILTER (WHERE tariff = 'large_industry'
            OR (customer_type = 'industrial' AND contracted_capacity_kva >= 315)) AS large_industry,
        count(*) FILTER (WHERE customer_type = 'commercial' AND contracted_capacity_kva >= 315)
            AS large_commercial,
        count(*) FILTER (WHERE (holder_birth_year IS NOT NULL)
            <> (customer_type = 'residential' AND NOT is_community_account)) AS odd_birth_years,
        count(*) FILTER (WHERE (industry_code = 'R') <> (customer_type = 'residential'))
            AS odd_industry_codes,
        count(*) FILTER (WHERE status = 'closed') AS closed,
        count(*) FILTER (WHERE status = 'suspended') AS suspended,
        count(*) FILTER (WHERE open_date >= DATE '2025-08-01') AS opened_in_window
    FROM customers
"""


def test_customer_mix_matches_a_city_utility(db):
    cursor = db.execute(MIX)
    mix = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
    print(mix)
    n = CUSTOMERS
    assert 0.83 <= mix["residential_share"] <= 0.87
    assert 0.06 <= mix["commercial_share"] <= 0.10
    assert mix["types"] == 5
    # Per 100k: ~20 special, ~100 first, ~300 second, ~200 key enterprises, 0.5 % estates.
    assert mix["special"] == max(1, round(n * 20 / 100_000))
    assert mix["first"] == round(n * 100 / 100_000)
    assert mix["second"] == round(n * 300 / 100_000)
    assert mix["key_enterprises"] == round(n * 200 / 100_000)
    assert mix["communities"] == round(mix["residential_share"] * n * 0.005)
    assert mix["large_industry"] > 0 and mix["large_commercial"] > 0
    assert mix["important_residents"] == mix["odd_households"] == 0
    assert mix["odd_birth_years"] == mix["odd_industry_codes"] == 0
    assert mix["closed"] > 0 and mix["closed"] + mix["suspended"] < 0.05 * n
    assert mix["opened_in_window"] > 0.01 * n


def test_thieves_are_about_one_and_a_half_percent(db):
    share = one(db, "SELECT avg(is_thief::INT) FROM truth")
    assert 0.012 <= share <= 0.018


def test_stressed_customers_pay_later_and_slide_into_arrears(db):
    per_bill = f"""
        SELECT t.q,
               coalesce(s.settled_at, TIMESTAMP '2026-10-31 23:59:59') > s.due_date
                   + INTERVAL 1 DAY AS late,
               datediff('day', s.due_date,
                        coalesce(s.settled_at, TIMESTAMP '2026-10-31 23:59:59')) AS days,
               coalesce(s.settled_at > s.due_date + INTERVAL 30 DAY, TRUE) AS arrears_30d
        FROM ({SETTLED}) s JOIN ({quartiles("financial_stress")}) t USING (customer_id)
        WHERE s.due_date < DATE '2026-09-01'
    """
    late = quartile_pair(db, f"SELECT q, avg(late::INT) FROM ({per_bill}) GROUP BY q")
    days = quartile_pair(db, f"SELECT q, avg(greatest(days, 0)) FROM ({per_bill}) GROUP BY q")
    arrears = quartile_pair(db, f"SELECT q, avg(arrears_30d::INT) FROM ({per_bill}) GROUP BY q")
    print(f"late share {late}, mean days late {days}, 30-day arrears share {arrears}")
    assert late[1] > 4 * late[0] and late[1] > 0.35
    assert days[1] > days[0] + 10
    assert arrears[1] > 0.10 and arrears[0] < 0.01


def test_digital_affinity_drives_channels(db):
    per_customer = """
        SELECT t.digital_affinity, t.true_segment,
               avg((i.channel IN ('app', 'wechat', 'web'))::INT) AS digital_share
        FROM channel_interactions i JOIN truth t USING (customer_id) GROUP BY ALL
    """
    rho = one(
        db,
        f"SELECT corr(r1, r2) FROM (SELECT rank() OVER (ORDER BY digital_affinity) r1, "
        f"rank() OVER (ORDER BY digital_share) r2 FROM ({per_customer}))",
    )
    elderly = one(
        db,
        f"SELECT avg(digital_share) FROM ({per_customer}) "
        "WHERE true_segment = 'elderly_counter_only'",
    )
    online_pay = one(
        db,
        "SELECT corr(t.digital_affinity, (p.channel IN ('app', 'wechat', "
        "'alipay'))::INT) FROM payments p JOIN truth t USING (customer_id)",
    )
    per_year = one(
        db, "SELECT count(*) / (SELECT count(*) FROM customers) / 15 * 12 FROM channel_interactions"
    )
    print(
        f"spearman(affinity, digital share) {rho:.3f}, elderly digital share {elderly:.3f}, "
        f"corr(affinity, online payment) {online_pay:.3f}, interactions/customer-year "
        f"{per_year:.1f}"
    )
    assert rho > 0.7
    assert elderly < 0.1
    assert online_pay > 0.3
    assert 15 <= per_year <= 45


def test_sensitive_customers_contact_after_outages(db):
    contacts = f"""
        SELECT e.customer_id, e.planned, EXISTS (
            SELECT 1 FROM work_orders w WHERE w.customer_id = e.customer_id
              AND w.topic = 'outage' AND w.ticket_type IN ('complaint', 'fault_report')
              AND w.created_at >= e.start_at AND w.created_at < e.start_at + INTERVAL 72 HOUR
        ) AS contacted
        FROM ({EXPOSED}) e
    """
    by_quartile = f"""
        SELECT q, contacted
        FROM ({contacts}) JOIN ({quartiles("outage_sensitivity")}) USING (customer_id)
    """
    rate = quartile_pair(db, f"SELECT q, avg(contacted::INT) FROM ({by_quartile}) GROUP BY q")
    planned, unplanned = (
        one(db, f"SELECT avg(contacted::INT) FROM ({contacts}) WHERE {'' if p else 'NOT '}planned")
        for p in (True, False)
    )
    print(
        f"72 h outage contact rate by sensitivity quartile {rate}, planned {planned:.3f}, "
        f"unplanned {unplanned:.3f}"
    )
    assert rate[1] > 4 * rate[0]
    assert 0.01 < rate[0] < 0.08
    assert unplanned > 2 * planned


def test_thieves_show_tamper_events_a_drop_and_positive_inspections(db):
    tamper = dict(
        db.execute(f"""
        SELECT t.is_thief, count(e.customer_id) / count(DISTINCT t.customer_id)
        FROM truth t LEFT JOIN meter_events e
          ON e.customer_id = t.customer_id AND e.event_type IN {TAMPER}
        GROUP BY 1
    """).fetchall()
    )
    # kWh in the 3 months after theft starts vs the 3 before, relative to same-type peers.
    drop = one(
        db,
        """
        WITH b AS (SELECT b.*, c.customer_type FROM bills b JOIN customers c USING (customer_id)),
        thief AS (
            SELECT t.customer_id, t.theft_start_month s, b.customer_type,
                avg(kwh) FILTER (WHERE bill_month BETWEEN t.theft_start_month + INTERVAL 1 MONTH
                                 AND t.theft_start_month + INTERVAL 3 MONTH) AS k_after,
                avg(kwh) FILTER (WHERE bill_month BETWEEN t.theft_start_month - INTERVAL 3 MONTH
                                 AND t.theft_start_month - INTERVAL 1 MONTH) AS k_before
            FROM truth t JOIN b USING (customer_id)
            WHERE t.is_thief AND (t.theft_caught_on IS NULL
                                  OR t.theft_caught_on > t.theft_start_month + INTERVAL 4 MONTH)
            GROUP BY ALL
        ),
        peer AS (
            SELECT s, customer_type, median(k_after / k_before) AS ratio FROM (
                SELECT th.s, b.customer_type,
                    avg(kwh) FILTER (WHERE bill_month BETWEEN th.s + INTERVAL 1 MONTH
                                     AND th.s + INTERVAL 3 MONTH) AS k_after,
                    avg(kwh) FILTER (WHERE bill_month BETWEEN th.s - INTERVAL 3 MONTH
                                     AND th.s - INTERVAL 1 MONTH) AS k_before
                FROM (SELECT DISTINCT s FROM thief) th CROSS JOIN b
                JOIN truth t USING (customer_id) WHERE NOT t.is_thief GROUP BY ALL
            ) GROUP BY ALL
        )
        SELECT median(k_after / k_before / ratio) FROM thief JOIN peer USING (s, customer_type)
        WHERE k_after IS NOT NULL AND k_before > 0
    """,
    )
    found = dict(
        db.execute("""
        SELECT t.is_thief, avg((i.result <> 'normal')::INT)
        FROM inspections i JOIN truth t USING (customer_id) GROUP BY 1
    """).fetchall()
    )
    inspected = one(
        db, "SELECT count(*) / (SELECT count(*) FROM customers) / 15 * 12 FROM inspections"
    )
    print(
        f"tamper events per customer: thieves {tamper[True]:.2f}, others {tamper[False]:.3f}; "
        f"thief kWh after/before vs peers {drop:.2f}; positive inspections: thieves "
        f"{found[True]:.2f}, others {found[False]:.3f}; inspections/customer-year "
        f"{inspected:.3f}"
    )
    assert tamper[True] > 5 * tamper[False]
    assert 0.3 < drop < 0.75
    assert found[True] > 0.6 and found[False] < 0.1
    assert 0.025 <= inspected <= 0.05


def test_value_tier_orders_revenue(db):
    rho = one(
        db,
        """
        SELECT corr(r1, r2) FROM (
            SELECT rank() OVER (ORDER BY t.value_tier) r1, rank() OVER (ORDER BY r.revenue) r2
            FROM truth t JOIN (SELECT customer_id, sum(amount) revenue FROM bills GROUP BY 1) r
            USING (customer_id))
    """,
    )
    print(f"spearman(value tier, revenue) {rho:.3f}")
    assert rho > 0.7


def test_consumption_has_seasons_and_a_festival_dip(db):
    monthly = """
        SELECT c.customer_type, month(read_date) m, avg(kwh) kwh
        FROM meter_reads_daily r JOIN customers c USING (customer_id)
        WHERE NOT c.is_community_account AND read_date >= DATE '2025-11-01'
        GROUP BY ALL
    """
    res = dict(
        db.execute(f"SELECT m, kwh FROM ({monthly}) WHERE customer_type = 'residential'").fetchall()
    )
    ind = dict(
        db.execute(f"SELECT m, kwh FROM ({monthly}) WHERE customer_type = 'industrial'").fetchall()
    )
    print(
        f"residential Jul {res[7]:.1f} vs Apr {res[4]:.1f}; industrial Feb {ind[2]:.0f} "
        f"vs Mar {ind[3]:.0f}"
    )
    assert res[7] > 1.15 * res[4] and res[1] > 1.05 * res[4]
    assert ind[2] < 0.92 * ind[3]
    weekend = one(
        db,
        """
        SELECT avg(kwh) FILTER (WHERE dayofweek(read_date) IN (0, 6))
             / avg(kwh) FILTER (WHERE dayofweek(read_date) NOT IN (0, 6))
        FROM meter_reads_daily JOIN customers USING (customer_id)
        WHERE customer_type = 'public_service'
    """,
    )
    assert weekend < 0.85


def test_surveys_reflect_sensitivity_and_business_expectations(db):
    sampled = one(
        db,
        "SELECT count(DISTINCT customer_id) / (SELECT count(*) FROM customers) "
        "FROM satisfaction_surveys",
    )
    assert 0.05 <= sampled <= 0.12
    expect = dict(
        db.execute("""
        SELECT c.customer_type = 'residential', avg(expectation)
        FROM satisfaction_surveys s JOIN customers c USING (customer_id)
        WHERE dimension = 'reliability' GROUP BY 1
    """).fetchall()
    )
    reliability = f"""
        SELECT q, expectation - perception AS gap
        FROM satisfaction_surveys JOIN ({quartiles("outage_sensitivity")}) USING (customer_id)
        WHERE dimension = 'reliability'
    """
    gap = quartile_pair(db, f"SELECT q, avg(gap) FROM ({reliability}) GROUP BY q")
    print(
        f"reliability expectation business {expect[False]:.2f} vs residential "
        f"{expect[True]:.2f}; reliability gap by sensitivity quartile {gap}"
    )
    assert expect[False] > expect[True] + 0.3
    assert gap[1] > gap[0] + 0.5
