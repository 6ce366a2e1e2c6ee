"""What staff read, in their language: display text for every code the outputs carry.

Codes (label codes, segment names' words, categories, factors, tiers, actions) stay stable ASCII
identifiers in every table; only the text shown to people changes with the locale. The texts are
versioned seeds: `display_text` (kind, code, zh_cn, en) for codes without a registry of their
own, `name_zh` in the label registry, `action_zh` / `reason_zh` in the strategy rules and
`name_zh` / `name_en` in the KPI thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ml.seeds import Seed
from powerseg.settings import DEFAULT_LOCALE, check_locale

DISPLAY_TEXT = Seed("display_text", "display_text.csv", columns=("kind", "code", "zh_cn", "en"))
# the column of each locale in the seeds: display_text, label_registry, strategy_rules
LOCALE_COLUMN = {"zh-CN": "zh_cn", "en": "en"}
KINDS = (
    "factor",
    "tier",
    "category",
    "segment_word",
    "servqual",
    "label_dimension",
    "value",
    "alarm",
    "industry",
    "report",
    "column",
)
# segment names are words joined by " · " (ml.segmentation.NAME_SEPARATOR)
SEGMENT_WORD_SEPARATOR = " · "
JOINER = {"zh-CN": "·", "en": " · "}


def validate_display_text(table: pd.DataFrame) -> pd.DataFrame:
    """The display_text seed, checked: its columns, known kinds, one row per (kind, code), and
    both texts present (a missing translation is an error here, not a code on a staff page)."""
    table = DISPLAY_TEXT.checked(table).fillna("").astype(str)
    DISPLAY_TEXT.require_known(table, "kind", KINDS, f"; known: {', '.join(KINDS)}")
    repeated = table[table.duplicated(["kind", "code"], keep=False)]
    if len(repeated):
        pairs = sorted(set(zip(repeated["kind"], repeated["code"], strict=True)))
        raise ValueError(f"display_text repeats (kind, code) {pairs}")
    for column in ("code", "zh_cn", "en"):
        empty = table.index[table[column].str.strip() == ""]
        if len(empty):
            rows = [int(i) + 2 for i in empty]  # CSV line numbers (header is line 1)
            raise ValueError(f"display_text has an empty {column} on line(s) {rows}")
    return table.reset_index(drop=True)


@dataclass(frozen=True)
class DisplayText:
    """Display text for one locale. Unknown codes show as themselves (a new value in the data
    must never break a report), and `missing` remembers them so a test or a check can name them."""

    locale: str
    texts: dict[tuple[str, str], str]
    missing: set[tuple[str, str]] = field(default_factory=set, compare=False)

    @classmethod
    def from_frame(cls, table: pd.DataFrame, locale: str = DEFAULT_LOCALE) -> DisplayText:
        check_locale(locale)
        table = validate_display_text(table)
        column = LOCALE_COLUMN[locale]
        texts = dict(
            zip(zip(table["kind"], table["code"], strict=True), table[column], strict=True)
        )
        return cls(locale, texts)

    @classmethod
    def load(cls, locale: str = DEFAULT_LOCALE, path: str | Path | None = None) -> DisplayText:
        return cls.from_frame(DISPLAY_TEXT.read(path), locale)

    @property
    def chinese(self) -> bool:
        return self.locale == "zh-CN"

    def text(self, kind: str, code, default: str | None = None) -> str:
        key = (kind, str(code))
        if key in self.texts:
            return self.texts[key]
        self.missing.add(key)
        return str(code) if default is None else default

    def __call__(self, key: str, **values) -> str:
        """A report sentence, its {placeholders} filled in."""
        template = self.text("report", key)
        return template.format(**values) if values else template

    def series(self, kind: str, values: pd.Series) -> pd.Series:
        """`text(kind, v)` for a column."""
        return _per_distinct(values, lambda v: self.text(kind, v))

    def segment_name(self, name: str) -> str:
        """'high value · outage-sensitive' → '高价值·停电敏感' (each word from the seed)."""
        words = [self.text("segment_word", w) for w in str(name).split(SEGMENT_WORD_SEPARATOR)]
        return JOINER[self.locale].join(words)

    def segment_names(self, names: pd.Series) -> pd.Series:
        return _per_distinct(names, self.segment_name)

    def industry(self, code) -> str:
        """'H62 餐饮业': the GB/T 4754 division, else its section (the letter), else the code."""
        if code is None or (isinstance(code, float) and np.isnan(code)) or str(code) == "":
            return ""
        code = str(code)
        for key in (code, code[:3], code[:1]):
            if ("industry", key) in self.texts:
                return f"{code} {self.texts[('industry', key)]}"
        self.missing.add(("industry", code))
        return code

    def industries(self, codes: pd.Series) -> pd.Series:
        return _per_distinct(codes, self.industry)

    def label_names(self, registry: pd.DataFrame) -> dict[str, str]:
        """label code → its name in this locale (label_registry `name_zh` / `name`)."""
        column = "name_zh" if self.chinese and "name_zh" in registry.columns else "name"
        names = registry[column].where(registry[column].astype(str) != "", registry["name"])
        return dict(zip(registry["code"], names, strict=True))


def _per_distinct(values: pd.Series, show) -> pd.Series:
    """`show(v)` for every value of a column, computed once per distinct value (a million rows
    hold a few dozen codes)."""
    return values.map({v: show(v) for v in pd.unique(values.dropna())})


def localise_rules(rules: pd.DataFrame, locale: str) -> pd.DataFrame:
    """Strategy rules whose `action` and `reason` read in `locale` (action_zh / reason_zh for
    zh-CN; a rule without a Chinese text keeps its English one, which a test forbids)."""
    check_locale(locale)
    rules = rules.copy()
    if locale == "zh-CN":
        for column in ("action", "reason"):
            translated = f"{column}_zh"
            if translated in rules.columns:
                text = rules[translated].fillna("").astype(str)
                rules[column] = text.where(text != "", rules[column])
    return rules
