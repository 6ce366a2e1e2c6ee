"""Fixtures of the ml tests: synthetic marts with planted structure, a throwaway MLflow store."""

from __future__ import annotations

import pytest

from tests.ml.synthetic import SyntheticMarts, make_marts


@pytest.fixture(scope="session")
def synthetic_marts() -> SyntheticMarts:
    return make_marts(8000, seed=3)
