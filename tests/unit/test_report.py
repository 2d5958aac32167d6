import math
import shutil
import subprocess

import pandas as pd
import pytest

from iadbench.report import latex_escape, metric_table, render_html, render_latex
from iadbench.results import make_row


def frame(values):
    rows = [make_row({"dataset": "embedded", "category": category, "model": model, "seed": seed,
                      "status": status, "image_AUROC": auroc, "pixel_AUROC": pixel, "weights": "random",
                      "finished_at": pd.Timestamp("2026-01-01", tz="UTC")})
            for model, category, seed, status, auroc, pixel in values]
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def results():
    return frame([
        ("padim", "washer", 0, "ok", 0.9, 0.8),
        ("padim", "washer", 1, "ok", 0.7, 0.8),
        ("padim", "grass", 0, "ok", 0.6, 0.7),
        ("dfkde", "washer", 0, "ok", 0.8, math.nan),
        ("dfkde", "grass", 0, "ok", 0.6, math.nan),
        ("<b>evil</b>", "washer", 0, "failed", math.nan, math.nan),
        ("<b>evil</b>", "grass", 0, "ok", 0.5, 0.5),
    ])


def cells(table, model):
    return dict(zip(table.columns, dict(table.rows)[model], strict=True))


def test_table_means_seeds_and_bolds_ties(results):
    table = metric_table(results, "embedded", "image_AUROC", "Image AUROC")
    padim, dfkde = cells(table, "padim"), cells(table, "dfkde")
    assert padim["washer"].text == "80.00 ± 14.14"  # mean ± std of seeds 0.9 and 0.7
    assert padim["washer"].bold and dfkde["washer"].bold  # tie at 80.00
    assert padim["grass"].bold and dfkde["grass"].bold
    assert padim["Mean"].text == "70.00"


def test_not_applicable_and_failed_cells(results):
    table = metric_table(results, "embedded", "pixel_AUROC", "Pixel AUROC")
    assert cells(table, "dfkde")["washer"].text == "–"
    evil = cells(table, "<b>evil</b>")
    assert evil["washer"].text == "failed" and evil["washer"].failed
    assert evil["washer"].link == "../logs/train/embedded/washer/<b>evil</b>/0.log"
    assert evil["Mean"].text == "–"  # no mean over an incomplete row


def test_html_escapes_and_labels_random_weights(results, repo_root):
    html = render_html(results, repo_root / "report" / "templates", "T", with_figures=False)
    assert "&lt;b&gt;evil&lt;/b&gt;" in html and "<b>evil</b>" not in html
    assert 'id="random-weights"' in html
    assert "<b>80.00</b>" in html
    assert '<a href="../logs/train/embedded/washer/&lt;b&gt;evil&lt;/b&gt;/0.log">failed</a>' in html


def test_latex_escapes_and_uses_booktabs(results, repo_root):
    tex = render_latex(results, repo_root / "report" / "templates", "T")
    assert r"\textbf{80.00}" in tex and r"\toprule" in tex
    assert "<b>evil</b>" in tex  # no HTML escaping in LaTeX; only LaTeX specials
    assert latex_escape("a_b & 50%") == r"a\_b \& 50\%"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (apt install texlive-latex-base)")
def test_latex_compiles(results, repo_root, tmp_path):
    body = render_latex(results, repo_root / "report" / "templates", "T")
    document = ("\\documentclass{article}\\usepackage{booktabs}\\usepackage{graphicx}\\usepackage[T1]{fontenc}"
                f"\\begin{{document}}{body}\\end{{document}}")
    (tmp_path / "tables.tex").write_text(document)
    result = subprocess.run(check=False, args=["pdflatex", "-interaction=nonstopmode", "tables.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]


def test_reference_deltas_and_bad_reference_file(results, tmp_path):
    from iadbench.report import read_references, reference_deltas

    reference = tmp_path / "ref.csv"
    reference.write_text("dataset,model,variant,metric,value,source,table\n"
                         "embedded,padim,PaDiM-R18,image_AUROC,0.9,Some paper,Table 1\n"
                         "embedded,nothere,X,image_AUROC,0.9,Some paper,Table 1\n")
    rows = reference_deltas(results, read_references([reference]))
    assert len(rows) == 1
    assert rows[0]["ours"] == "70.00" and rows[0]["delta"] == "-20.00" and rows[0]["categories"] == "2 of 4"
    broken = tmp_path / "broken.csv"
    broken.write_text("model,value\npadim,0.9\n")
    with pytest.raises(ValueError, match="broken.csv"):
        read_references([broken])
