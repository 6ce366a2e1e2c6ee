"""Tariff codes and the price schedule used to turn kWh into a bill amount.

Prices are in the range of a Chinese provincial catalogue (CNY/kWh); residents pay by monthly tier.
"""

from __future__ import annotations

import numpy as np

from powerseg.contract import TARIFFS, VOLTAGE_LEVELS

RESIDENTIAL_TIERED, GENERAL_COMMERCIAL, LARGE_INDUSTRY, AGRICULTURAL = range(len(TARIFFS))

# Monthly residential tiers: first 230 kWh, up to 400 kWh, above.
RESIDENTIAL_TIER_KWH = (230.0, 400.0)
RESIDENTIAL_TIER_PRICE = (0.5283, 0.5783, 0.8283)
# Community (estate) master accounts pay the flat "merged meter" residential price.
COMMUNITY_PRICE = 0.5483
# Large industry pays a capacity charge on top of energy (two-part tariff), CNY per kVA-month.
CAPACITY_CHARGE_PER_KVA = 26.0

# Energy price by tariff (rows, contract order) and voltage (columns, contract order).
ENERGY_PRICE = np.array(
    [
        # 0.22kV 0.4kV  10kV   35kV   110kV
        [0.5283, 0.5283, 0.5283, 0.5283, 0.5283],  # residential_tiered (tier 1)
        [0.8010, 0.7830, 0.7510, 0.7310, 0.7110],  # general_commercial
        [0.6600, 0.6600, 0.6350, 0.6150, 0.5950],  # large_industry
        [0.4980, 0.4880, 0.4760, 0.4660, 0.4660],  # agricultural
    ]
)
assert ENERGY_PRICE.shape == (len(TARIFFS), len(VOLTAGE_LEVELS))


def residential_tiered_amount(kwh: np.ndarray) -> np.ndarray:
    low, high = RESIDENTIAL_TIER_KWH
    p1, p2, p3 = RESIDENTIAL_TIER_PRICE
    tier1 = np.minimum(kwh, low)
    tier2 = np.clip(kwh - low, 0, high - low)
    tier3 = np.maximum(kwh - high, 0)
    return tier1 * p1 + tier2 * p2 + tier3 * p3


def bill_amount(
    kwh: np.ndarray,
    tariff: np.ndarray,
    energy_price: np.ndarray,
    community: np.ndarray,
    capacity_kva: np.ndarray,
    billed_share_of_month: np.ndarray,
) -> np.ndarray:
    """Amount in CNY for a month's kWh; the capacity charge is prorated to the days supplied."""
    tiered = (tariff == RESIDENTIAL_TIERED) & ~community
    amount = np.where(tiered, residential_tiered_amount(kwh), kwh * energy_price)
    amount = np.where(community, kwh * COMMUNITY_PRICE, amount)
    capacity = np.where(
        tariff == LARGE_INDUSTRY,
        capacity_kva * CAPACITY_CHARGE_PER_KVA * billed_share_of_month,
        0.0,
    )
    return np.round(amount + capacity, 2)
