"""The versioned seeds of the dbt project (label registry, points and strategy rules, display text):
read as written and checked one way, with errors that name the seed, the column and the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

SEEDS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"


def read_rules_csv(path) -> pd.DataFrame:
    """A versioned rule seed (label registry, points rules, strategy rules) as text columns, empty
    cells as empty strings, so a rule reads exactly as written."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@dataclass(frozen=True)
class Seed:
    """One seed: its file in the seeds folder, the columns it must have and the key naming a row.

    The checks raise ValueError worded from `name` and `row`: "points rules lack column(s) [...]",
    "label registry repeats code(s) [...]", "priority must be a whole number for action(s) [...]".
    """

    name: str  # how errors call the seed: "label registry", "strategy rules"
    file_name: str
    columns: tuple[str, ...]  # required
    key: str | None = None  # the column that names a row, unique: "code", "action_code"
    row: str = "row"  # how errors call one row: "label", "action"
    plural: bool = False  # "strategy rules lack", "label registry lacks"
    optional_text: tuple[str, ...] = ()  # columns a seed may leave out, read as empty text

    @property
    def path(self) -> Path:
        return SEEDS_DIR / self.file_name

    def read(self, path: str | Path | None = None) -> pd.DataFrame:
        """The seed as text, from `path` or else from the dbt project's seeds folder."""
        return read_rules_csv(path or self.path)

    def checked(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of `frame` with every required column, its optional text columns filled in."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{self.name} {self._verb('lacks', 'lack')} column(s) {missing}")
        frame = frame.copy()
        for column in self.optional_text:
            if column not in frame.columns:
                frame[column] = ""
            frame[column] = frame[column].fillna("").astype(str)
        return frame

    def require_unique_key(self, frame: pd.DataFrame) -> None:
        duplicated = frame[self.key][frame[self.key].duplicated()].tolist()
        if duplicated:
            verb = self._verb("repeats", "repeat")
            raise ValueError(f"{self.name} {verb} {self.key}(s) {duplicated}")

    def require_known(
        self, frame: pd.DataFrame, column: str, known: Iterable[str], hint: str = ""
    ) -> None:
        """Every value of `column` is one of `known`; `hint` ends the message (what to use)."""
        unknown = sorted(set(frame[column]) - set(known))
        if unknown:
            verb = self._verb("has", "have")
            raise ValueError(f"{self.name} {verb} unknown {column}(s) {unknown}{hint}")

    def whole_numbers(
        self, frame: pd.DataFrame, column: str, minimum: int | None = None
    ) -> pd.Series:
        """`column` as integers; rows that hold anything else (or less than `minimum`) are named
        by their key."""
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | (values % 1 != 0)
        if minimum is not None:
            bad |= values < minimum
        if bad.any():
            at_least = "" if minimum is None else f" >= {minimum}"
            named = frame.loc[bad, self.key].tolist()
            raise ValueError(f"{column} must be a whole number{at_least} for {self.row}(s) {named}")
        return values.astype(int)

    def _verb(self, singular: str, plural: str) -> str:
        return plural if self.plural else singular
