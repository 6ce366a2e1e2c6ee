"""Hidden customer traits (the truth) and the customer master generated from them.

Every customer belongs to an archetype whose trait means drive size, tariff, tenure and behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from powerseg.contract import (
    CUSTOMER_STATUSES,
    CUSTOMER_TYPES,
    IMPORTANCE_GRADES,
    TARIFFS,
    VOLTAGE_LEVELS,
)

from . import pii
from .clock import DAYS_PER_YEAR, Window, day_number, stream
from .tariff import (
    AGRICULTURAL,
    ENERGY_PRICE,
    GENERAL_COMMERCIAL,
    LARGE_INDUSTRY,
    RESIDENTIAL_TIERED,
    bill_amount,
)

RES, IND, COM, AGR, PUB = (
    CUSTOMER_TYPES.index(t)
    for t in ("residential", "industrial", "commercial", "agricultural", "public_service")
)
V022, V04, V10, V35, V110 = range(len(VOLTAGE_LEVELS))
SPECIAL, FIRST, SECOND, NO_GRADE = range(len(IMPORTANCE_GRADES))
ACTIVE, SUSPENDED, CLOSED = (CUSTOMER_STATUSES.index(s) for s in ("active", "suspended", "closed"))
NEVER = np.iinfo(np.int64).max // 4  # a day number later than any window

TYPE_SHARE = np.zeros(len(CUSTOMER_TYPES))
TYPE_SHARE[[RES, COM, IND, AGR, PUB]] = (0.85, 0.08, 0.03, 0.02, 0.02)

# Per 100,000 customers; small runs keep at least one of each so every category exists.
IMPORTANCE_PER_100K = {SPECIAL: 20, FIRST: 100, SECOND: 300}
KEY_ENTERPRISES_PER_100K = 200
COMMUNITY_SHARE_OF_RESIDENTIAL = 0.005
THIEF_SHARE = 0.015


@dataclass(frozen=True)
class Archetype:
    name: str
    value: float
    sensitivity: float
    stress: float
    digital: float
    theft: float


ARCHETYPES = (
    Archetype(
        "high_value_engaged", value=0.80, sensitivity=0.40, stress=0.12, digital=0.80, theft=0.10
    ),
    Archetype(
        "steady_digital", value=0.50, sensitivity=0.18, stress=0.18, digital=0.85, theft=0.12
    ),
    Archetype(
        "stressed_late_payer", value=0.30, sensitivity=0.45, stress=0.80, digital=0.45, theft=0.45
    ),
    Archetype(
        "elderly_counter_only", value=0.30, sensitivity=0.30, stress=0.30, digital=0.04, theft=0.15
    ),
    Archetype(
        "outage_sensitive_business",
        value=0.75,
        sensitivity=0.85,
        stress=0.25,
        digital=0.45,
        theft=0.15,
    ),
    Archetype("average", value=0.50, sensitivity=0.45, stress=0.45, digital=0.45, theft=0.30),
)
ARCHETYPE_NAMES = np.array([a.name for a in ARCHETYPES])
ELDERLY = 3
TRAIT_NOISE_SD = 0.11

# Archetype mix per customer type (rows in contract type order, columns in ARCHETYPES order):
# residents spread over all archetypes, business leans to valuable and outage-sensitive.
_MIX = {
    RES: (0.12, 0.22, 0.16, 0.15, 0.03, 0.32),
    IND: (0.30, 0.08, 0.10, 0.00, 0.37, 0.15),
    COM: (0.22, 0.15, 0.15, 0.00, 0.25, 0.23),
    AGR: (0.05, 0.05, 0.30, 0.15, 0.10, 0.35),
    PUB: (0.20, 0.20, 0.02, 0.00, 0.45, 0.13),
}

# fmt: off
DISTRICTS = np.array(["城东区", "城西区", "城南区", "城北区", "高新区", "经开区", "滨江区",
                      "临港区", "东湖区", "西山区"])
# fmt: on
DISTRICT_REGION = np.array([f"3301{i:02d}" for i in range(2, 2 + DISTRICTS.size)])
# District weights per type: industry sits in the development zones, farms on the outskirts.
_DISTRICT_WEIGHT = {
    RES: (14, 12, 12, 11, 9, 7, 10, 6, 11, 8),
    IND: (2, 2, 3, 3, 14, 22, 4, 20, 3, 8),
    COM: (16, 14, 12, 10, 12, 6, 12, 4, 10, 4),
    AGR: (1, 1, 3, 3, 1, 3, 4, 24, 10, 40),
    PUB: (12, 12, 10, 10, 8, 8, 10, 8, 12, 10),
}
_INDUSTRY = {
    IND: (
        ("C13", "C17", "C26", "C30", "C31", "C33", "C38", "C39", "B06"),
        (12, 10, 10, 12, 6, 16, 14, 14, 6),
    ),
    COM: (("F51", "F52", "H61", "H62", "I65", "J66", "K70", "L72"), (18, 24, 8, 22, 6, 4, 10, 8)),
    AGR: (("A01", "A03", "A04", "A05"), (45, 25, 10, 20)),
    PUB: (("P83", "Q84", "N77", "D46", "S92"), (40, 20, 10, 10, 20)),
}
# Standard distribution-transformer sizes, kVA, for sites on their own transformer.
# fmt: off
STANDARD_KVA = np.array([315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000,
                         6300, 8000, 10000, 12500, 16000, 20000], dtype=float)
# fmt: on


def scaled_count(n: int, per_100k: float) -> int:
    return max(1, round(n * per_100k / 100_000))


def top_k(rng: np.random.Generator, weight: np.ndarray, k: int) -> np.ndarray:
    """k indices drawn without replacement, probability proportional to weight (Gumbel)."""
    key = np.full(weight.size, -np.inf)
    positive = weight > 0
    key[positive] = np.log(weight[positive]) + rng.gumbel(size=int(positive.sum()))
    order = np.argsort(-key, kind="stable")[:k]
    return order[np.isfinite(key[order])]


def _uniform(rng: np.random.Generator, bounds: dict[int, tuple[float, float]], ctype: np.ndarray):
    low = np.array([bounds[t][0] for t in range(len(CUSTOMER_TYPES))])[ctype]
    high = np.array([bounds[t][1] for t in range(len(CUSTOMER_TYPES))])[ctype]
    return rng.uniform(low, high)


def _snap(x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return grid[np.clip(np.searchsorted(grid, x), 0, grid.size - 1)]


@dataclass
class Customers:
    """Struct of arrays, one entry per customer, in customer_id order."""

    n: int
    customer_id: np.ndarray
    ctype: np.ndarray
    archetype: np.ndarray
    value: np.ndarray
    sensitivity: np.ndarray
    stress: np.ndarray
    digital: np.ndarray
    theft_propensity: np.ndarray
    district: np.ndarray
    district_code: np.ndarray
    industry: np.ndarray
    voltage: np.ndarray
    capacity_kva: np.ndarray
    tariff: np.ndarray
    importance: np.ndarray
    key_enterprise: np.ndarray
    community: np.ndarray
    households: np.ndarray  # 0 = not a community account
    birth_year: np.ndarray  # 0 = not a residential holder
    open_day: np.ndarray
    end_day: np.ndarray  # last day supplied (window end unless closed)
    suspend_day: np.ndarray  # consumption stops from this day (NEVER when not suspended)
    status: np.ndarray
    base_kwh: np.ndarray  # typical daily kWh at the start of the window
    growth: np.ndarray  # annual consumption growth rate
    load_factor: np.ndarray
    weekend_factor: np.ndarray
    summer_amp: np.ndarray
    winter_amp: np.ndarray
    noise_sd: np.ndarray
    energy_price: np.ndarray
    is_thief: np.ndarray
    theft_start_day: np.ndarray  # NEVER when not a thief
    theft_drop: np.ndarray
    theft_stealth: np.ndarray  # multiplier on tamper-event rates (some thieves leave no trace)
    value_score: np.ndarray
    value_tier: np.ndarray
    auto_debit: np.ndarray
    pay_earliness: np.ndarray
    pii: dict[str, np.ndarray]

    @property
    def business(self) -> np.ndarray:
        return self.ctype != RES

    @property
    def three_phase(self) -> np.ndarray:
        return self.voltage != V022

    @property
    def important(self) -> np.ndarray:
        return self.importance != NO_GRADE

    def active_start(self, window: Window) -> np.ndarray:
        return np.maximum(self.open_day, window.start)


def build_customers(seed: int, n: int, window: Window) -> Customers:
    rng = stream(seed, "customers")
    counts = np.floor(TYPE_SHARE * n).astype(int)
    counts[RES] += n - counts.sum()
    ctype = np.repeat(np.arange(len(CUSTOMER_TYPES)), counts).astype(np.int8)
    rng.shuffle(ctype)
    customer_id = np.strings.add("C", np.strings.zfill(np.arange(1, n + 1).astype(str), 7))

    # Archetype and traits: clip(archetype mean + noise), so clusters overlap at the edges.
    archetype = np.empty(n, dtype=np.int8)
    for t, mix in _MIX.items():
        members = np.flatnonzero(ctype == t)
        archetype[members] = rng.choice(len(ARCHETYPES), size=members.size, p=np.array(mix))
    means = np.array([[a.value, a.sensitivity, a.stress, a.digital, a.theft] for a in ARCHETYPES])
    traits = np.clip(means[archetype] + rng.normal(0, TRAIT_NOISE_SD, (n, 5)), 0.0, 1.0)
    value, sensitivity, stress, digital, theft_propensity = traits.T

    district_code = np.empty(n, dtype=np.int64)
    industry = np.full(n, "R", dtype=object)
    for t, weights in _DISTRICT_WEIGHT.items():
        members = np.flatnonzero(ctype == t)
        w = np.array(weights, dtype=float)
        district_code[members] = rng.choice(DISTRICTS.size, size=members.size, p=w / w.sum())
        if t in _INDUSTRY:
            codes, iw = _INDUSTRY[t]
            iw = np.array(iw, dtype=float)
            industry[members] = np.array(codes)[
                rng.choice(len(codes), members.size, p=iw / iw.sum())
            ]
    industry = industry.astype(str)

    # Community (estate) master accounts: residential, run by property companies.
    res_idx = np.flatnonzero(ctype == RES)
    community = np.zeros(n, dtype=bool)
    n_comm = scaled_count(n, COMMUNITY_SHARE_OF_RESIDENTIAL * TYPE_SHARE[RES] * 100_000)
    community[res_idx[rng.permutation(res_idx.size)[:n_comm]]] = True
    archetype[community] = rng.choice([0, 1, 5], size=int(community.sum()), p=[0.3, 0.3, 0.4])
    households = np.where(
        community, np.round(np.exp(rng.uniform(np.log(50), np.log(3000), n))), 0
    ).astype(np.int64)

    capacity, voltage, large = _capacity_and_voltage(rng, ctype, value, community, households)
    tariff = np.select(
        [ctype == RES, ctype == AGR, (ctype == IND) & large & (rng.random(n) < 0.9)],
        [RESIDENTIAL_TIERED, AGRICULTURAL, LARGE_INDUSTRY],
        GENERAL_COMMERCIAL,
    ).astype(np.int8)
    energy_price = ENERGY_PRICE[tariff, voltage]

    base_kwh, load_factor = _base_consumption(rng, ctype, value, capacity, community, households)
    is_res = ctype == RES
    weekend_factor = _uniform(
        rng,
        {RES: (1.0, 1.1), IND: (0.6, 0.95), COM: (0.75, 1.2), AGR: (0.95, 1.05), PUB: (0.45, 0.8)},
        ctype,
    )
    summer_amp = _uniform(
        rng,
        {RES: (0.15, 0.8), IND: (0.05, 0.3), COM: (0.1, 0.4), AGR: (0.8, 2.0), PUB: (0.1, 0.4)},
        ctype,
    )
    winter_amp = _uniform(
        rng,
        {RES: (0.05, 0.5), IND: (0.0, 0.15), COM: (0.05, 0.3), AGR: (0.0, 0.05), PUB: (0.05, 0.3)},
        ctype,
    )
    noise_sd = np.array([0.25, 0.10, 0.12, 0.30, 0.10])[ctype]
    noise_sd = np.where(community, 0.06, noise_sd)
    growth = np.where(
        is_res,
        rng.normal(0.02 + 0.04 * (value - 0.5), 0.04),
        rng.normal(0.03 + 0.10 * (value - 0.5), 0.07),
    ).clip(-0.3, 0.4)

    # Supply-security grades go to big, sensitive, non-residential sites; the biggest get "special".
    importance = np.full(n, NO_GRADE, dtype=np.int8)
    type_weight = np.array([0.0, 3.0, 1.5, 0.3, 4.0])[ctype]
    grade_weight = type_weight * capacity**0.6 * (0.3 + sensitivity)
    n_grades = [scaled_count(n, IMPORTANCE_PER_100K[g]) for g in (SPECIAL, FIRST, SECOND)]
    chosen = top_k(rng, grade_weight, sum(n_grades))
    importance[chosen] = np.repeat([SPECIAL, FIRST, SECOND], n_grades)[: chosen.size]
    key_enterprise = np.zeros(n, dtype=bool)
    key_weight = np.where(np.isin(ctype, [IND, COM]), base_kwh, 0.0) ** 1.5
    key_enterprise[top_k(rng, key_weight, scaled_count(n, KEY_ENTERPRISES_PER_100K))] = True
    # Flagged sites (and estates) are kept out of churn and rarely steal.
    flagged = (importance != NO_GRADE) | key_enterprise

    birth_year = np.where(
        archetype == ELDERLY,
        rng.normal(1947, 6, n).clip(1935, 1960),
        rng.normal(1973, 12, n).clip(1935, 2000),
    ).astype(np.int64)
    birth_year = np.where(is_res & ~community, birth_year, 0)

    open_day, end_day, suspend_day, status = _lifecycle(
        rng, window, ctype, value, archetype, flagged | community
    )
    is_thief, theft_start_day, theft_drop, theft_stealth = _thieves(
        rng, window, ctype, theft_propensity, large, flagged, community, open_day
    )

    value_score, value_tier = _value(
        ctype, base_kwh, tariff, energy_price, community, capacity, stress, open_day, growth, window
    )
    auto_debit = rng.random(n) < 0.5 * (1 - stress) ** 2 * (0.4 + 0.6 * digital)
    pay_earliness = np.clip(rng.normal(0.65 - 0.45 * stress, 0.2), 0.0, 1.0)

    district = DISTRICTS[district_code]
    info = _pii(seed, ctype, community, district, district_code, industry, birth_year)
    return Customers(
        n=n,
        customer_id=customer_id,
        ctype=ctype,
        archetype=archetype,
        value=value,
        sensitivity=sensitivity,
        stress=stress,
        digital=digital,
        theft_propensity=theft_propensity,
        district=district,
        district_code=district_code,
        industry=industry,
        voltage=voltage,
        capacity_kva=capacity,
        tariff=tariff,
        importance=importance,
        key_enterprise=key_enterprise,
        community=community,
        households=households,
        birth_year=birth_year,
        open_day=open_day,
        end_day=end_day,
        suspend_day=suspend_day,
        status=status,
        base_kwh=base_kwh,
        growth=growth,
        load_factor=load_factor,
        weekend_factor=weekend_factor,
        summer_amp=summer_amp,
        winter_amp=winter_amp,
        noise_sd=noise_sd,
        energy_price=energy_price,
        is_thief=is_thief,
        theft_start_day=theft_start_day,
        theft_drop=theft_drop,
        theft_stealth=theft_stealth,
        value_score=value_score,
        value_tier=value_tier,
        auto_debit=auto_debit,
        pay_earliness=pay_earliness,
        pii=info,
    )


def _capacity_and_voltage(rng, ctype, value, community, households):
    n = ctype.size
    # Large (>= 315 kVA, own transformer) sites are a few percent of business, more of the valuable.
    p_large = (
        np.array([0.0, 0.03, 0.01, 0.02, 0.08])[ctype]
        + np.array([0.0, 0.16, 0.05, 0.0, 0.15])[ctype] * value
    )
    large = (rng.random(n) < p_large) & (ctype != RES)
    upper = np.array([315.0, 20000.0, 5000.0, 800.0, 4000.0])[ctype]
    u = rng.random(n) ** (2.2 - 1.5 * value)
    large_kva = _snap(np.exp(np.log(315) + (np.log(upper) - np.log(315)) * u), STANDARD_KVA)
    median = np.array([6.0, 100.0, 30.0, 30.0, 60.0])[ctype]
    small_kva = (
        np.round((median * (0.6 + 0.8 * value) * np.exp(rng.normal(0, 0.7, n))).clip(5, 250) / 5)
        * 5
    )
    res_kva = _snap(
        2.5 + 0.75 * np.exp(np.log(7) + 1.4 * (value - 0.5)) + rng.normal(0, 1.5, n),
        np.array([4.0, 6.0, 8.0, 10.0, 12.0]),
    )
    comm_kva = households * rng.uniform(1.2, 2.5, n)
    comm_kva = np.where(
        comm_kva >= 315, _snap(comm_kva, STANDARD_KVA), np.round(comm_kva / 10) * 10
    )
    capacity = np.select(
        [community, ctype == RES, large], [comm_kva, res_kva, large_kva], small_kva
    )
    hv_voltage = np.select([capacity <= 6300, capacity <= 12500], [V10, V35], V110)
    voltage = np.select(
        [capacity >= 315, ctype == RES, capacity < 15],
        [hv_voltage, np.where((capacity >= 12) & (rng.random(n) < 0.3), V04, V022), V022],
        V04,
    ).astype(np.int8)
    return capacity.astype(float), voltage, large | (capacity >= 315)


def _base_consumption(rng, ctype, value, capacity, community, households):
    n = ctype.size
    res = np.exp(np.log(7.0) + 1.4 * (value - 0.5) + rng.normal(0, 0.35, n))
    comm = households * np.exp(np.log(5.5) + rng.normal(0, 0.2, n))
    load_factor = np.select(
        [community, ctype == RES, ctype == IND, ctype == COM, ctype == PUB],
        [
            rng.uniform(0.35, 0.5, n),
            rng.uniform(0.2, 0.4, n),
            rng.uniform(0.5, 0.85, n),
            rng.uniform(0.35, 0.6, n),
            rng.uniform(0.3, 0.55, n),
        ],
        rng.uniform(0.3, 0.6, n),
    )
    # Mean load as a share of capacity; capped so peak demand (mean / load factor) fits capacity.
    a = np.array([0.0, 0.10, 0.06, 0.03, 0.05])[ctype]
    b = np.array([0.0, 0.30, 0.18, 0.10, 0.15])[ctype]
    utilisation = np.minimum((a + b * value) * np.exp(rng.normal(0, 0.3, n)), 0.85 * load_factor)
    business = capacity * 24 * utilisation
    base = np.select([community, ctype == RES], [comm, res], business)
    return base, load_factor


def _lifecycle(rng, window, ctype, value, archetype, protected):
    """Open, close and suspension days: most accounts predate the window, a few churn inside it."""
    n = ctype.size
    tenure_years = rng.gamma(2.0, 4.0, n) + 6 * value + np.where(archetype == ELDERLY, 12, 0)
    open_day = np.maximum(
        window.start - np.round(tenure_years * DAYS_PER_YEAR), day_number("1985-01-01")
    ).astype(np.int64)
    new = (rng.random(n) < min(0.25, 0.0025 * window.months)) & ~protected
    open_day = np.where(new, window.start + rng.integers(0, max(window.n_days - 3, 1), n), open_day)

    first = np.maximum(open_day, window.start) + 30
    room = window.end - first
    when = first + np.floor(rng.random(n) * np.maximum(room, 1)).astype(np.int64)
    closing = (rng.random(n) < 0.0012 * window.months) & ~protected & (room > 0)
    closing &= np.isin(ctype, [RES, COM])
    suspending = (rng.random(n) < 0.005 * window.years) & np.isin(ctype, [IND, COM, AGR])
    suspending &= ~protected & ~closing & (room > 0)
    end_day = np.where(closing, when, window.end).astype(np.int64)
    suspend_day = np.where(suspending, when, NEVER).astype(np.int64)
    status = np.select([closing, suspending], [CLOSED, SUSPENDED], ACTIVE).astype(np.int8)
    return open_day, end_day, suspend_day, status


def _thieves(rng, window, ctype, propensity, large, flagged, community, open_day):
    """About 1.5 % thieves, mostly small business and residents with a high propensity."""
    n = ctype.size
    type_weight = np.array([1.0, 2.0, 3.0, 2.0, 0.2])[ctype]
    weight = propensity**2 * type_weight * np.where(large | flagged, 0.1, 1.0) * ~community
    is_thief = np.zeros(n, dtype=bool)
    is_thief[top_k(rng, weight, scaled_count(n, THIEF_SHARE * 100_000))] = True
    # Most start inside the window (a visible drop), some half a year before it (no drop to see).
    start = rng.integers(window.start - 182, max(window.end - 60, window.start - 181), n)
    start = np.maximum(start, open_day + 30)
    theft_start_day = np.where(is_thief & (start <= window.end), start, NEVER).astype(np.int64)
    is_thief &= theft_start_day < NEVER
    theft_drop = np.where(is_thief, rng.uniform(0.3, 0.7, n), 0.0)
    theft_stealth = np.where(rng.random(n) < 0.35, 0.15, 1.0)
    return is_thief, theft_start_day, theft_drop, theft_stealth


def _value(
    ctype, base_kwh, tariff, energy_price, community, capacity, stress, open_day, growth, window
):
    """Score from expected revenue, payment reliability, tenure and growth; tier = quantile."""
    monthly = base_kwh * 30.4
    revenue = 12 * bill_amount(
        monthly, tariff, energy_price, community, capacity, np.ones_like(monthly)
    )

    def pct(x):
        return np.argsort(np.argsort(x, kind="stable"), kind="stable") / max(x.size - 1, 1)

    tenure = window.end - open_day
    score = (
        0.6 * pct(np.log1p(revenue)) + 0.2 * (1 - stress) + 0.1 * pct(tenure) + 0.1 * pct(growth)
    )
    cuts = np.quantile(score, [0.25, 0.55, 0.80, 0.93])
    tier = (np.searchsorted(cuts, score, side="right") + 1).astype(np.int8)
    return score, tier


def _pii(seed, ctype, community, district, district_code, industry, birth_year):
    rng = stream(seed, "pii")
    n = ctype.size
    person = (ctype == RES) & ~community
    region = DISTRICT_REGION[district_code]
    names = np.where(
        person, pii.person_names(rng, n), pii.business_names(rng, district, industry, community)
    )
    safe_year = np.where(birth_year > 0, birth_year, 1970)
    ids = np.where(
        person, pii.resident_id_numbers(rng, region, safe_year), pii.credit_codes(rng, region)
    )
    phone = pii.phones(rng, n)
    address = pii.addresses(rng, district, person)
    # A few master-data gaps, as in any real CIS extract.
    return {
        "name": names,
        "id_number": ids,
        "phone": phone,
        "address": address,
        "id_number_missing": rng.random(n) < 0.01,
        "phone_missing": rng.random(n) < 0.02,
        "address_missing": rng.random(n) < 0.005,
    }


def customers_columns(c: Customers) -> dict[str, object]:
    """The contract `customers` table as named columns (numpy arrays, masks for nulls)."""
    return {
        "customer_id": c.customer_id,
        "name": c.pii["name"],
        "id_number": (c.pii["id_number"], c.pii["id_number_missing"]),
        "phone": (c.pii["phone"], c.pii["phone_missing"]),
        "address": (c.pii["address"], c.pii["address_missing"]),
        "district": c.district,
        "customer_type": np.array(CUSTOMER_TYPES)[c.ctype],
        "industry_code": c.industry,
        "voltage_level": np.array(VOLTAGE_LEVELS)[c.voltage],
        "contracted_capacity_kva": c.capacity_kva,
        "tariff": np.array(TARIFFS)[c.tariff],
        "importance_grade": np.array(IMPORTANCE_GRADES)[c.importance],
        "key_enterprise_flag": c.key_enterprise,
        "is_community_account": c.community,
        "households": (c.households, ~c.community),
        "holder_birth_year": (c.birth_year, c.birth_year == 0),
        "open_date": c.open_day,
        "status": np.array(CUSTOMER_STATUSES)[c.status],
    }


def truth_columns(c: Customers, theft_caught_day: np.ndarray) -> dict[str, object]:
    """Hidden traits the pipeline never reads; tests and benchmarks score models against them."""
    start = np.where(c.is_thief, c.theft_start_day, 0).astype("datetime64[D]")
    start_month = start.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return {
        "customer_id": c.customer_id,
        "true_segment": ARCHETYPE_NAMES[c.archetype],
        "value_tier": c.value_tier.astype(np.int32),
        "value_score": c.value_score,
        "outage_sensitivity": c.sensitivity,
        "financial_stress": c.stress,
        "digital_affinity": c.digital,
        "theft_propensity": c.theft_propensity,
        "is_thief": c.is_thief,
        "theft_start_month": (start_month, ~c.is_thief),
        "theft_caught_on": (theft_caught_day, theft_caught_day >= NEVER),
        "theft_drop": (c.theft_drop, ~c.is_thief),
        "base_daily_kwh": c.base_kwh,
        "annual_growth": c.growth,
        "auto_debit": c.auto_debit,
    }
