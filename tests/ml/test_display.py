"""Staff read their own language: every code the outputs can carry has a Chinese and an English
text in the seeds, the strategy reads Chinese with the same facts as English, and a bad display
seed is a clear error naming the row."""

from __future__ import annotations

import html
import re
import string

import pandas as pd
import pytest

from ml.display import DISPLAY_TEXT, DisplayText, localise_rules, validate_display_text
from ml.labels import LABEL_DIMENSIONS, load_label_registry
from ml.registry import FACTORS
from ml.report import render_segment_report
from ml.seeds import read_rules_csv
from ml.segmentation import AVERAGE_NAME, FACTOR_WORDS, LEVEL1_CATEGORIES, segment_customers
from ml.strategy import SERVQUAL_DIMENSIONS, build_service_strategy, load_strategy_rules
from powerseg.contract import (
    CUSTOMER_TYPES,
    INTERACTION_CHANNELS,
    PAYMENT_CHANNELS,
)
from powerseg.settings import Settings
from tests.ml.test_strategy import planted_world

CJK = re.compile(r"[\u4e00-\u9fff]")
# what the simulator's and a utility's customer master carry (GB/T 4754 divisions)
INDUSTRY_CODES = ("C13", "C26", "C38", "F52", "H62", "J66", "A01", "P83", "S92", "E48", "R")


@pytest.fixture(scope="module")
def zh() -> DisplayText:
    return DisplayText.load("zh-CN")


@pytest.fixture(scope="module")
def en() -> DisplayText:
    return DisplayText.load("en")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_code_the_outputs_carry_has_a_text(locale):
    text = DisplayText.load(locale)
    expected = (
        [("factor", f) for f in FACTORS]
        + [("tier", t) for t in ("high", "medium", "low", "not_scored")]
        + [("category", c) for c in LEVEL1_CATEGORIES]
        + [("segment_word", w) for pair in FACTOR_WORDS.values() for w in pair]
        + [("segment_word", w) for w in (AVERAGE_NAME, "high risk", "low risk", "all customers")]
        + [("servqual", d) for d in SERVQUAL_DIMENSIONS]
        + [("label_dimension", d) for d in LABEL_DIMENSIONS]
        + [("value", v) for v in (*CUSTOMER_TYPES, *PAYMENT_CHANNELS, *INTERACTION_CHANNELS)]
        + [("value", v) for v in ("digital-first", "hybrid", "offline", "none", "true")]
        + [("alarm", a) for a in ("ok", "warn", "alarm")]
    )
    missing = [key for key in expected if key not in text.texts]
    assert not missing, missing
    if locale == "zh-CN":
        # Chinese where a code was translated; English keeps the codes' own words
        for key in expected:
            if key[0] in ("factor", "tier", "category", "segment_word", "servqual", "alarm"):
                assert CJK.search(text.texts[key]), key


def test_industries_show_their_gbt_4754_names(zh, en):
    assert zh.industry("H62") == "H62 餐饮业"
    assert en.industry("C38") == "C38 Electrical machinery and equipment"
    # a division the seed does not list falls back to its section
    assert zh.industry("E48") == "E48 建筑业"
    assert zh.industry("") == ""
    for code in INDUSTRY_CODES:
        assert zh.industry(code) != code
    assert not zh.missing


def test_segment_names_translate_word_by_word(zh, en):
    assert zh.segment_name("high value · outage-sensitive") == "高价值·停电敏感"
    assert en.segment_name("high value · outage-sensitive") == "high value · outage-sensitive"
    assert zh.segment_name(AVERAGE_NAME) == "均衡型"


def test_every_label_and_action_has_a_chinese_text_with_the_same_facts():
    registry = load_label_registry()
    assert (registry["name_zh"].str.strip() != "").all()
    assert registry["name_zh"].map(lambda n: bool(CJK.search(n))).all()
    rules = load_strategy_rules()
    for rule in rules.itertuples(index=False):
        assert CJK.search(rule.action_zh), rule.action_code
        assert CJK.search(rule.reason_zh), rule.action_code
        # the Chinese reason quotes exactly the facts the English one does
        assert _fields(rule.reason_zh) == _fields(rule.reason), rule.action_code
    localised = localise_rules(rules, "zh-CN")
    assert (localised["action"] == rules["action_zh"]).all()
    assert (localise_rules(rules, "en")["action"] == rules["action"]).all()


def test_the_strategy_in_chinese_names_the_same_actions_with_chinese_reasons(zh):
    scores, segments, labels, surveys = planted_world(n_other=600)
    english = build_service_strategy(scores, segments, surveys, labels)
    chinese = build_service_strategy(scores, segments, surveys, labels, display=zh)
    a, b = english.customer_service_actions, chinese.customer_service_actions
    # codes never change with the locale: the same customers get the same actions
    key = ["customer_id", "action_rank", "action_code", "dimension", "priority"]
    pd.testing.assert_frame_equal(a[key], b[key])
    assert b["reason"].map(lambda r: bool(CJK.search(r))).all()
    assert not b["reason"].str.contains("{", regex=False).any()
    assert not b["reason"].str.contains("segment|customer|outages", regex=True).any()
    assert b["action"].map(lambda r: bool(CJK.search(r))).all()
    assert not zh.missing, zh.missing


def test_the_report_reads_chinese_with_every_text_in_the_seed():
    scores, segments, labels, surveys = planted_world(n_other=600)
    zh = DisplayText.load("zh-CN")
    result = segment_customers(scores)
    strategy = build_service_strategy(scores, result.customer_segments, surveys, labels, display=zh)
    kpis = pd.DataFrame(
        {
            "district": ["ALL", "城东区"],
            "kpi_code": ["arrears_rate", "complaint_rate_per_10k"],
            "value": [0.4, 300.0],
            "previous_value": [0.3, None],
            "threshold": [0.35, 250.0],
            "alarm": ["alarm", "alarm"],
            "base": [1000, 200],
            "unit": ["share", "per 10 000"],
        }
    )
    page = render_segment_report(
        result.segment_profiles,
        migration=result.segment_profiles.iloc[0:0].assign(
            from_segment_id="", to_segment_id="", customers=0
        )[["from_segment_id", "to_segment_id", "customers"]],
        customer_labels=labels,
        label_registry=load_label_registry(),
        strategy_matrix=strategy.segment_strategy_matrix,
        summary=result.summary,
        display=zh,
        kpis=kpis,
        kpi_names={"arrears_rate": "欠费户占比", "complaint_rate_per_10k": "万户投诉率"},
        large_customers=pd.DataFrame(
            columns=["customer_id", "level1_category", "district", "industry", "kwh_month"]
        ),
    )
    text = html.unescape(page)
    assert "<html lang='zh-CN'>" in page
    for heading in (
        "指标告警",
        "客群规模与经营指标",
        "各客群因子画像",
        "标签分布",
        "差异化服务策略",
    ):
        assert heading in text, heading
    # the alarms head the report, red, with the KPI's Chinese name and the company row
    assert text.index("指标告警") < text.index("客群规模与经营指标")
    assert "<tr class='alarm'><td>告警</td><td>全公司</td><td>欠费户占比</td>" in text
    # with no previous month, plain sentences instead of empty tables
    assert "尚无上月客群结果" in text and "本月没有重要、重点或大客户" in text
    for segment in result.segment_profiles.itertuples(index=False):
        assert zh.segment_name(segment.segment_name) in text
    assert not zh.missing, sorted(zh.missing)


def test_a_bad_display_seed_is_a_clear_error():
    table = read_rules_csv(DISPLAY_TEXT.path)
    with pytest.raises(ValueError, match=r"repeats \(kind, code\) \[\('factor', 'arrears'\)\]"):
        validate_display_text(pd.concat([table, table[table["code"] == "arrears"]]))
    blank = table.copy()
    blank.loc[3, "zh_cn"] = " "
    with pytest.raises(ValueError, match=r"empty zh_cn on line\(s\) \[5\]"):
        validate_display_text(blank)
    with pytest.raises(ValueError, match="unknown kind"):
        validate_display_text(table.assign(kind="colour"))
    with pytest.raises(ValueError, match="lacks column"):
        validate_display_text(table.drop(columns="en"))


def test_the_locale_comes_from_settings_and_is_checked():
    assert Settings.from_env({}).locale == "zh-CN"
    assert Settings.from_env({"POWERSEG_LOCALE": "en"}).locale == "en"
    assert Settings.from_env({"POWERSEG_LOCALE": "en"}).export_env()["POWERSEG_LOCALE"] == "en"
    with pytest.raises(ValueError, match="POWERSEG_LOCALE='fr' is not a supported locale"):
        Settings.from_env({"POWERSEG_LOCALE": "fr"})
