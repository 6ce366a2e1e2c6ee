"""Simulated utility extracts: every source-contract table for N customers over M months.

Generated from hidden per-customer traits, written to a separate truth file to score models.
"""

from .core import TRUTH_FILE, Simulation, TablePart, simulate

__all__ = ["TRUTH_FILE", "Simulation", "TablePart", "simulate"]
