"""The segment report: renders offline, names every segment, and carries every section."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from ml.labels import evaluate_labels
from ml.report import render_segment_report, write_segment_report
from ml.report_html import index_bars_svg
from ml.segmentation import segment_customers, segment_migration
from ml.strategy import SERVQUAL_DIMENSIONS, build_service_strategy
from tests.ml.test_segmentation import PII_COLUMNS, planted_scores
from tests.ml.test_strategy import planted_world


class _Collector(HTMLParser):
    """Tags and text of a page; raises on nothing, so it checks nesting by counting."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.open: list[str] = []
        self.text: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in ("meta", "br", "line", "rect"):
            self.open.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.external.append(value)

    def handle_endtag(self, tag):
        if tag in ("line", "rect"):
            return
        assert self.open and self.open[-1] == tag, (tag, self.open[-5:])
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def report_inputs():
    scores, segments, labels, surveys = planted_world()
    result = segment_customers(scores)
    previous_scores, _ = planted_scores(
        n_other=1500, seed=9, month="2025-05-01", small_categories={"important": 60, "key": 150}
    )
    previous = segment_customers(previous_scores)
    migration = segment_migration(previous.customer_segments, result.customer_segments)
    strategy = build_service_strategy(scores, result.customer_segments, surveys, labels)
    return {
        "profiles": result.segment_profiles,
        "summary": result.summary,
        "migration": migration,
        "labels": labels,
        "matrix": strategy.segment_strategy_matrix,
    }


@pytest.fixture(scope="module")
def page(report_inputs) -> str:
    return render_segment_report(
        report_inputs["profiles"],
        migration=report_inputs["migration"],
        customer_labels=report_inputs["labels"],
        strategy_matrix=report_inputs["matrix"],
        summary=report_inputs["summary"],
    )


def test_report_parses_and_is_self_contained(page):
    parser = _Collector()
    parser.feed(page)
    parser.close()
    assert parser.open == []  # every element closed in order
    assert parser.external == []  # no scripts, styles or images fetched from anywhere
    assert "<script" not in page
    assert page.startswith("<!DOCTYPE html>")


def test_report_names_every_segment_with_its_bars(page, report_inputs):
    profiles = report_inputs["profiles"]
    text = html.unescape(page)
    for segment in profiles.itertuples(index=False):
        assert segment.segment_id in text
        assert segment.segment_name in text
    # one −1…+1 bar chart per segment, five bars each
    assert page.count("aria-label='factor index bars'") == len(profiles)
    assert page.count("<rect ") == 5 * len(profiles)
    assert "As-of month 2025-06" in page
    assert f"{int(profiles['size'].sum()):,} customers" in page


def test_report_has_every_section(page, report_inputs):
    for heading in (
        "Segments and sizes",
        "Factor profile of each segment",
        "Migration since the previous month",
        "Label frequencies",
        "Service strategy (SERVQUAL)",
    ):
        assert f">{heading}<" in html.unescape(page)
    # migration: the number of customers in both months, and the labels' dimensions
    total = int(report_inputs["migration"]["customers"].sum())
    assert f"{total:,} customers present in both months" in page
    for dimension in ("basic", "consumption", "payment", "service", "value", "risk"):
        assert f"<h3>{dimension}</h3>" in page
    for dimension in SERVQUAL_DIMENSIONS:
        assert f"<th>{dimension}</th>" in page
    # every action the matrix chose is listed in its cell
    actions = {a for cell in report_inputs["matrix"]["actions"] for a in cell.split(" | ") if a}
    for action in actions:
        assert f"<li>{html.escape(action, quote=True)}</li>" in page


def test_report_without_optional_sections(report_inputs):
    page = render_segment_report(report_inputs["profiles"])
    assert "Segments and sizes" in page and "Migration" not in page
    assert "Label frequencies" not in page and "SERVQUAL" not in page
    # k and silhouette come from the stored profiles when no summary is passed
    other = report_inputs["profiles"].query("level1_category == 'other'")
    silhouette = other["category_silhouette"].iloc[0]
    assert f"k = {len(other)} · silhouette {silhouette:.2f}" in html.unescape(page)


def test_report_escapes_names(report_inputs):
    profiles = report_inputs["profiles"].copy()
    profiles.loc[profiles.index[0], "segment_name"] = "<b>bold</b> & co"
    page = render_segment_report(profiles)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page and "<b>bold</b>" not in page


def test_report_is_aggregate_only(page, report_inputs):
    # no single customer appears: not their account number, let alone anything personal
    assert not re.search(r"C\d{7}", page)
    assert not PII_COLUMNS & set(report_inputs["labels"].columns)


def test_index_bars_point_up_and_down():
    svg = index_bars_svg([0.5, -1.0, 0.0], ["a", "b", "c"])
    heights = [float(h) for h in re.findall(r"height='([0-9.]+)'", svg)[1:]]
    assert heights == [25.0, 50.0, 0.0]  # half and full of the 50-pixel half axis
    assert svg.count("#c0392b") == 2 and svg.count("#2471a3") == 1  # 0 counts as above


def test_write_segment_report(tmp_path, report_inputs):
    path = write_segment_report(
        tmp_path / "2025-06" / "segments.html", report_inputs["profiles"], title="Segments"
    )
    assert path.exists()
    assert "<title>Segments 2025-06</title>" in path.read_text(encoding="utf-8")


def test_labels_section_counts_customers():
    scores, _ = planted_scores(n_other=300, small_categories={"important": 20})
    labels = evaluate_labels(scores)
    profiles = segment_customers(scores).segment_profiles
    page = render_segment_report(profiles, customer_labels=labels)
    # a yes/no label shows no value, its customers and their share of all 320
    row = "<td>important_customer</td><td></td><td class='num'>20</td>"
    assert row in page
    assert "6.2%" in page.split(row, 1)[1].split("</tr>", 1)[0]
