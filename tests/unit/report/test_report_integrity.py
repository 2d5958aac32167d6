"""Run integrity in the report: partial seeds, AU-PRO limits, flat anomaly maps, text as data, error tails."""

import math
import shutil
import subprocess

import pandas as pd
import pytest

from iadbench.report.labels import Labels
from iadbench.report.render import (
    metric_table,
    rank_summary,
    render_html,
    render_latex,
    report_tables,
)
from iadbench.report.reproduction import read_reference_files, reproduction_tables
from iadbench.results.rows import make_row

DEFAULTS = {"dataset": "embedded", "status": "ok", "weights": "pretrained",
            "finished_at": pd.Timestamp("2026-01-01", tz="UTC")}


def rows(*values, degenerate=None) -> pd.DataFrame:
    """Rows from dicts of (model, category, seed, metrics...); ``degenerate``: {(model, category, seed): flag}."""
    frame = pd.concat([make_row({**DEFAULTS, **value}) for value in values], ignore_index=True)
    if degenerate is not None:  # set after make_row: the column may not be in ROW_SCHEMA yet
        keys = zip(frame["model"], frame["category"], frame["seed"], strict=True)
        frame["degenerate_maps"] = pd.array([degenerate.get(key) for key in keys], dtype="boolean")
    return frame


def job(model, category, seed, status="ok", **metrics):
    return {"model": model, "category": category, "seed": seed, "status": status, **metrics}


def cells(table, model):
    return dict(zip(table.columns, dict(table.rows)[model], strict=True))


def templates(repo_root):
    return repo_root / "src" / "iadbench" / "report" / "templates"


# 4. Partial seeds are visible ------------------------------------------------------------------

@pytest.fixture
def partial():
    """padim: 1 of 3 seeds ok on washer (and the best number there); dfm: every seed ok."""
    return rows(
        job("padim", "washer", 0, image_AUROC=0.95),
        job("padim", "washer", 1, "failed", error_type="RuntimeError", error_tail="CUDA out of memory"),
        job("padim", "washer", 2, "failed", error_type="RuntimeError", error_tail="CUDA out of memory"),
        *(job("padim", category, seed, image_AUROC=0.6) for category in ("grass", "brick") for seed in range(3)),
        *(job("dfm", category, seed, image_AUROC=0.9 - 0.01 * seed)
          for category in ("washer", "grass", "brick") for seed in range(3)),
        *(job("stfpm", category, seed, image_AUROC=0.7 + 0.05 * index)
          for index, category in enumerate(("washer", "grass", "brick")) for seed in range(3)),
    )


def test_partial_cell_shows_seed_count_and_is_never_bold(partial):
    table = metric_table(partial, "embedded", "image_AUROC", "Image AUROC")
    padim, dfm = cells(table, "padim"), cells(table, "dfm")
    assert padim["washer"].text == "95.00 (1/3 seeds)" and padim["washer"].partial
    assert not padim["washer"].bold  # 95.00 is the highest number, but not over complete cells
    assert dfm["washer"].bold and dfm["washer"].text == "89.00 ± 1.00"
    assert padim["Mean"].text == "–"  # the mean only uses complete cells
    assert dfm["Mean"].text == "89.00"
    assert not any(cell.partial for cell in dfm.values())


def test_partial_cells_are_left_out_of_ranks(partial):
    comparisons = rank_summary(partial)[2]
    # washer has a partial cell (padim): it is not ranked, leaving grass and brick (< 3 categories).
    assert "image_AUROC" not in comparisons
    complete = pd.concat([partial, rows(*(job(model, "gravel", seed, image_AUROC=score)
                                          for model, score in (("padim", 0.5), ("dfm", 0.8), ("stfpm", 0.7))
                                          for seed in range(3)))], ignore_index=True)
    comparison = rank_summary(complete)[2]["image_AUROC"]
    assert comparison.n_categories == 3  # grass, brick, gravel; not washer


def test_html_and_latex_say_partial_cells_are_left_out(partial, repo_root):
    html = render_html(partial, templates(repo_root), "T", with_figures=False)
    assert "95.00 (1/3 seeds)" in html and "<b>95.00" not in html
    assert 'id="complete-cells"' in html
    tex = render_latex(partial, templates(repo_root), "T")
    assert "95.00 (1/3 seeds)" in tex and r"\textbf{95.00" not in tex
    assert "seeds failed" in tex


# 5. Every AU-PRO limit is what its title says --------------------------------------------------

@pytest.fixture
def two_limits():
    """Configured limits 0.05 (first: plain pixel_AUPRO) and 0.3, three categories, two models."""
    return rows(*(job(model, category, 0, image_AUROC=0.9, pixel_AUROC=0.9, pixel_AUPRO=0.2 + shift,
                      pixel_AUPRO_05=0.2 + shift, pixel_AUPRO_30=0.7 + shift)
                  for model, shift in (("padim", 0.0), ("dfm", 0.1)) for category in ("washer", "grass", "brick")))


def test_one_table_per_aupro_limit_titled_by_its_value(two_limits):
    titles = {table.metric: table.title for table in report_tables(two_limits)}
    assert titles["pixel_AUPRO_05"] == "Pixel AU-PRO (FPR ≤ 0.05)"
    assert titles["pixel_AUPRO_30"] == "Pixel AU-PRO (FPR ≤ 0.3)"
    assert "pixel_AUPRO" not in titles  # the plain column is the first limit, whichever it is: ambiguous
    assert cells(next(t for t in report_tables(two_limits) if t.metric == "pixel_AUPRO_05"), "dfm")["washer"].text \
        == "30.00"


def test_ranks_use_the_fpr_03_column_and_name_its_limit(two_limits, repo_root):
    metrics = rank_summary(two_limits)[0]
    assert "pixel_AUPRO_30" in metrics and "pixel_AUPRO" not in metrics and "pixel_AUPRO_05" not in metrics
    html = render_html(two_limits, templates(repo_root), "T", with_figures=True)
    # Two methods, three categories: the Wilcoxon test cannot reject (p >= 0.25), so no post-hoc CD diagram.
    assert "Critical difference diagram" not in html
    assert ("Pixel AU-PRO (FPR ≤ 0.3): Wilcoxon signed-rank p = 0.25: no significant difference across "
            "categories; no CD diagram") in html
    assert "embedded: Pixel AU-PRO (FPR ≤ 0.3)</figcaption>" in html  # its heatmap


def test_old_rows_without_limit_columns_say_the_limit_is_unknown():
    old = rows(*(job(model, category, 0, pixel_AUROC=0.9, pixel_AUPRO=0.5)
                 for model in ("padim", "dfm") for category in ("washer", "grass", "brick")))
    titles = {table.metric: table.title for table in report_tables(old)}
    assert titles["pixel_AUPRO"] == "Pixel AU-PRO (first configured FPR limit)"
    assert "pixel_AUPRO" in rank_summary(old)[0]


def test_reference_aupro_is_compared_at_its_own_limit(two_limits, tmp_path):
    reference = tmp_path / "papers_ref.csv"
    reference.write_text("dataset,category,model,variant,metric,value,source,table\n"
                         "embedded,washer,padim,P,pixel_AUPRO,0.9,Paper,Table 2\n"
                         "embedded,washer,padim,P,pixel_AUPRO_05,0.3,Paper,Table 3\n"
                         "embedded,washer,padim,P,pixel_AUPRO_10,0.3,Paper,Table 4\n")
    tables = reproduction_tables(two_limits, read_reference_files([reference]), Labels())
    assert [(table.metric, table.column) for table in tables] == [("pixel_AUPRO", "pixel_AUPRO_30"),
                                                                  ("pixel_AUPRO_05", "pixel_AUPRO_05")]
    washer = [next(row for row in table.rows if row.category == "Washer") for table in tables]
    assert [(row.ours, row.comparisons[0].value, row.comparisons[0].delta) for row in washer] == [
        ("70.00", "90.00", "-20.00*"), ("20.00", "30.00", "-10.00*")]
    assert washer[0].comparisons[0].note == "P; Paper; Table 2"
    assert tables[0].title == "embedded: Pixel AU-PRO (FPR ≤ 0.3), ours vs published"
    old = two_limits.drop(columns=["pixel_AUPRO_05", "pixel_AUPRO_30"])
    assert reproduction_tables(old, read_reference_files([reference]), Labels()) == []  # limit unknown


# 7. Degenerate outputs are flagged -------------------------------------------------------------

def test_pixel_cells_of_flat_map_jobs_are_marked(repo_root):
    frame = rows(job("padim", "washer", 0, image_AUROC=0.9, pixel_AUROC=0.5),
                 job("padim", "grass", 0, image_AUROC=0.8, pixel_AUROC=0.7),
                 job("dfm", "washer", 0, image_AUROC=0.7, pixel_AUROC=0.6),
                 job("dfm", "grass", 0, image_AUROC=0.6, pixel_AUROC=0.6),
                 degenerate={("padim", "washer", 0): True, ("padim", "grass", 0): False})  # dfm: NA (old rows)
    pixel = metric_table(frame, "embedded", "pixel_AUROC", "Pixel AUROC")
    assert cells(pixel, "padim")["washer"].degenerate
    assert not cells(pixel, "padim")["grass"].degenerate and not cells(pixel, "dfm")["washer"].degenerate
    assert not cells(metric_table(frame, "embedded", "image_AUROC", "Image AUROC"), "padim")["washer"].degenerate
    html = render_html(frame, templates(repo_root), "T", with_figures=False)
    assert "50.00†" in html and "constant anomaly maps" in html
    assert "90.00†" not in html  # image metrics are not affected
    tex = render_latex(frame, templates(repo_root), "T")
    assert r"50.00\textsuperscript{\dag}" in tex and "constant anomaly maps" in tex


def test_missing_degenerate_column_marks_nothing(repo_root):
    frame = rows(job("padim", "washer", 0, pixel_AUROC=0.5)).drop(columns="degenerate_maps", errors="ignore")
    assert not cells(metric_table(frame, "embedded", "pixel_AUROC", "Pixel AUROC"), "padim")["washer"].degenerate
    assert "†" not in render_html(frame, templates(repo_root), "T", with_figures=False)


# 9. Report text is data, not syntax ------------------------------------------------------------

AWKWARD_TITLE = "MVTec {AD} & 100% _x_\nsecond line"


def test_latex_title_with_newline_stays_in_its_comment(repo_root):
    tex = render_latex(rows(job("padim", "washer", 0, image_AUROC=0.9)), templates(repo_root), AWKWARD_TITLE)
    assert tex.splitlines()[0].startswith(r"% MVTec \{AD\} \& 100\% \_x\_ second line")
    assert not any(line.startswith("second line") for line in tex.splitlines())


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (apt install texlive-latex-base)")
def test_latex_with_awkward_title_compiles(partial, repo_root, tmp_path):
    frame = pd.concat([partial, rows(job("padim", "washer", 3, pixel_AUROC=0.5),
                                     degenerate={("padim", "washer", 3): True})], ignore_index=True)
    body = render_latex(frame, templates(repo_root), AWKWARD_TITLE)
    document = ("\\documentclass{article}\\usepackage{booktabs}\\usepackage{graphicx}\\usepackage[T1]{fontenc}"
                f"\\begin{{document}}{body}\\end{{document}}")
    (tmp_path / "tables.tex").write_text(document)
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "tables.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:]


def test_html_title_is_escaped(repo_root):
    html = render_html(rows(job("padim", "washer", 0, image_AUROC=0.9)), templates(repo_root),
                       "<i>MVTec</i> {AD}", with_figures=False)
    assert "<h1>&lt;i&gt;MVTec&lt;/i&gt; {AD}</h1>" in html


# 11. The HTML shows the error tail of a failed cell --------------------------------------------

def test_failed_cell_and_failed_list_show_the_error_tail(repo_root):
    tail = 'Traceback…\n  x = <model> & "y"\nRuntimeError: boom'
    frame = rows(job("padim", "washer", 0, "failed", error_type="RuntimeError", error_tail=tail),
                 job("padim", "grass", 0, image_AUROC=0.8), job("dfm", "washer", 0, image_AUROC=0.7),
                 job("dfm", "grass", 0, image_AUROC=math.nan))
    html = render_html(frame, templates(repo_root), "T", with_figures=False)
    escaped = 'Traceback…\n  x = &lt;model&gt; &amp; &#34;y&#34;\nRuntimeError: boom'
    assert f'<td class="failed" title="{escaped}">' in html
    assert f"<details><summary>RuntimeError</summary><pre>{escaped}</pre></details>" in html
    assert "<model>" not in html
