"""Simulated utility extracts: every source-contract table for N customers over M months.

Generated from hidden per-customer traits, written to a separate truth file to score models.
"""

from .core import TRUTH_FILE, Simulation, TablePart, simulate
from .defects import ROW_KINDS, DefectPlan, read_defects

__all__ = [
    "ROW_KINDS",
    "TRUTH_FILE",
    "DefectPlan",
    "Simulation",
    "TablePart",
    "read_defects",
    "simulate",
]
