"""Simulated utility extracts: every source-contract table for N customers over M months.

Generated from hidden per-customer traits, written to a separate truth file to score models.
"""

from .core import TRUTH_FILE, Simulation, TablePart, simulate
from .defects import ROW_KINDS, DefectPlan, read_defects
from .landing import (
    SIMULATOR_MARKER,
    ForeignFolderError,
    demo_refused,
    is_simulated,
    simulation_refused,
)

__all__ = [
    "ROW_KINDS",
    "SIMULATOR_MARKER",
    "TRUTH_FILE",
    "DefectPlan",
    "ForeignFolderError",
    "Simulation",
    "TablePart",
    "demo_refused",
    "is_simulated",
    "read_defects",
    "simulate",
    "simulation_refused",
]
