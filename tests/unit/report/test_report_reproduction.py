"""The reproduction section against the real reference files: ours beside the study, the papers and anomalib."""

import math

import pandas as pd
import pytest

from iadbench.report.labels import Labels, labels_for
from iadbench.report.references import study_audit_cells
from iadbench.report.render import render_html, render_latex
from iadbench.report.reproduction import (
    Ours,
    compare,
    our_values,
    read_reference_files,
    reproduction_tables,
    source_kind_of,
    study_audit,
    variant_matches,
)
from iadbench.results.rows import make_row

# Made-up scores, (model, category) → image AUROC of seeds 0 and 1 (pixel metrics follow).
SCORES = {("padim", "screw"): (0.80, 0.82), ("padim", "bottle"): (0.99, 0.99),
          ("patchcore", "screw"): (0.95, 0.97), ("patchcore", "bottle"): (1.0, 1.0),
          ("cfa", "screw"): (0.70, 0.72), ("cfa", "bottle"): (0.97, 0.95)}
CONFIG = {"datasets": {"mvtec_ad": {"type": "mvtec_ad"}},
          "models": {"padim": {"init_args": {"backbone": "resnet18"}}, "patchcore": {},
                     "cfa": {"init_args": {"backbone": "wide_resnet50_2"}}}}


@pytest.fixture(scope="module")
def frame():
    rows = [make_row({"dataset": "mvtec_ad", "category": category, "model": model, "seed": seed, "status": "ok",
                      "image_AUROC": score, "pixel_AUROC": score - 0.02, "pixel_AUPRO": score - 0.1,
                      "pixel_AUPRO_30": score - 0.1, "pixel_AUPRO_05": score - 0.3, "pixel_PRO": score - 0.05,
                      "weights": "random",
                      "finished_at": pd.Timestamp("2026-01-01", tz="UTC")})
            for (model, category), scores in SCORES.items() for seed, score in enumerate(scores)]
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def references(repo_root):
    paths = sorted((repo_root / "config" / "reference").glob("*.csv"))
    assert {path.name for path in paths} >= {"study_mvtec_ad.csv", "papers_mvtec_ad.csv", "anomalib_mvtec_ad.csv"}
    return read_reference_files(paths)


def test_source_kinds_come_from_the_file_names(references):
    assert source_kind_of("config/reference/study_mvtec_ad.csv") == "study"
    assert source_kind_of("anomalib_visa.csv") == "anomalib" and source_kind_of("papers_mvtec_ad.csv") == "paper"
    assert source_kind_of("mvtec_ad.csv") == "paper"
    assert set(references["source_kind"]) == {"study", "paper", "anomalib", "ader"}


def test_html_reproduction_section_shows_the_deltas(frame, references, repo_root):
    html = render_html(frame, repo_root / "src" / "iadbench" / "report" / "templates", "T", CONFIG, with_figures=False,
                       references=references)
    assert '<h2 id="reproduction">' in html
    assert '<h3 id="reproduction-mvtec-ad-image-AUROC">mvtec_ad: Image AUROC, ours vs published</h3>' in html
    start = html.index('<tr class="group"><td>PaDiM</td><td>Screw</td>')
    padim_screw = html[start:html.index("</tr>", start)]
    # Ours 81.00 ± 1.41 (seeds 0.80, 0.82); the study's 78.95: +2.05, within 2 std (2.83): not flagged.
    assert "<td>81.00 ± 1.41</td>" in padim_screw
    assert ">78.95</td><td>+2.05</td>" in padim_screw
    # anomalib's PaDiM ResNet-18 (our backbone), 75.90: +5.10, beyond 2 std: flagged.
    assert '>75.90</td><td class="flag">+5.10*</td>' in padim_screw
    assert 'id="study-audit"' in html


def test_latex_has_one_long_table_per_metric(frame, references, repo_root):
    tex = render_latex(frame, repo_root / "src" / "iadbench" / "report" / "templates", "T", CONFIG, references=references)
    for metric in ("image-AUROC", "pixel-AUROC", "pixel-AUPRO"):
        assert f"\\label{{tab:reproduction-mvtec-ad-{metric}}}" in tex
    assert "PaDiM & Screw & 81.00 $\\pm$ 1.41 & 78.95 & +2.05 &" in tex
    assert "\\textbf{+5.10*}" in tex


def test_pixel_aupro_reference_is_ours_at_fpr_03(frame, references):
    tables = {table.metric: table for table in reproduction_tables(frame, references, labels_for(SCORES), {})}
    assert set(tables) == {"image_AUROC", "pixel_AUROC", "pixel_AUPRO", "pixel_PRO"}
    assert tables["pixel_AUPRO"].column == "pixel_AUPRO_30"
    cfa = next(row for row in tables["pixel_AUPRO"].rows if row.model == "CFA" and row.category == "Screw")
    assert cfa.ours == "61.00 ± 1.41"  # pixel_AUPRO_30, not pixel_AUPRO_05 (41.00)
    assert not tables["pixel_AUPRO"].beside_title and cfa.beside == ""


def test_the_studys_pro_is_our_thresholded_pro_with_au_pro_beside(frame, references):
    """The study's PRO (anomalib's, one threshold) compares with our pixel_PRO, like with like; our AU-PRO at FPR
    0.3 is printed beside it, in HTML and LaTeX."""
    tables = {table.metric: table for table in reproduction_tables(frame, references, labels_for(SCORES), {})}
    pro = tables["pixel_PRO"]
    assert pro.column == "pixel_PRO" and pro.beside_title == "Ours, Pixel AU-PRO (FPR ≤ 0.3)"
    padim = next(row for row in pro.rows if row.model == "PaDiM" and row.category == "Screw")
    assert padim.ours == "76.00 ± 1.41" and padim.beside == "71.00 ± 1.41"
    study = pro.kinds.index("study")
    assert padim.comparisons[study].value == "30.00"  # the study's PaDiM screw PRO


def test_rows_follow_the_studys_category_order_and_the_mean_says_its_coverage(frame, references):
    (table, *_) = reproduction_tables(frame, references, labels_for(SCORES), {})
    assert [row.category for row in table.rows[:3]] == ["Screw", "Bottle", "Mean (2 of 15)"]
    mean = table.rows[2]
    assert mean.mean and mean.ours == "90.00 ± 0.71"  # seeds: (0.80 + 0.99) / 2, (0.82 + 0.99) / 2
    # The study's mean over the same two categories (not its 15-category average).
    study = table.kinds.index("study")
    assert "mean of its per-category values" in mean.comparisons[study].note


def test_flag_rule():
    assert compare(Ours(0.80, 0.0), 0.79, "").delta == "+1.00"  # exactly one point: not beyond it
    assert compare(Ours(0.80, 0.0), 0.789, "").delta == "+1.10*"
    assert compare(Ours(0.80, 0.02), 0.77, "").delta == "+3.00"  # within 2 std
    assert compare(Ours(0.80, 0.02), 0.75, "").flagged
    assert compare(None, 0.75, "").delta == "–" and compare(Ours(0.8, 0), math.nan, "").value == "–"


def test_incomplete_cells_are_not_ours(frame):
    failed = make_row({"dataset": "mvtec_ad", "category": "screw", "model": "padim", "seed": 2, "status": "failed",
                       "finished_at": pd.Timestamp("2026-01-01", tz="UTC")})
    values = our_values(pd.concat([frame, failed], ignore_index=True), "mvtec_ad", "image_AUROC")
    assert ("padim", "screw") not in values and ("padim", "mean") not in values
    assert values[("patchcore", "screw")] == Ours(pytest.approx(0.96), pytest.approx(0.0141421356))


def test_variants_naming_our_backbone_are_preferred():
    assert variant_matches("Wide ResNet-50", "wide_resnet50_2") and variant_matches("PatchCore-25% (WRN-50)",
                                                                                     "wide_resnet50_2")
    assert variant_matches("ResNet-18", "resnet18") and not variant_matches("Wide ResNet-50", "resnet50")
    assert not variant_matches("ResNet-18", "")


def test_study_audit_lists_the_studys_cells_with_ours(frame, references, repo_root):
    audit = study_audit(frame, study_audit_cells(references), Labels())
    cfa_bottle = next(row for row in audit.rows if row["model"] == "CFA" and row["category"] == "Bottle")
    # The study's CFA on bottle: image AUROC exactly 50 %, pixel AUROC 24.52 with PRO 100: ours beside.
    assert cfa_bottle["study"][0] == "50.00" and cfa_bottle["ours"] == ["96.00", "94.00", "91.00"]  # PRO: ours
    assert "image AUROC exactly 50%" in cfa_bottle["reason"] and "threshold-saturated PRO" in cfa_bottle["reason"]
    assert audit.metric_titles == ["Image AUROC", "Pixel AUROC", "PRO"]
    # Datasets we did not run are not audited.
    assert study_audit(frame.assign(dataset="embedded"), study_audit_cells(references), Labels()) is None
