import math
import shutil
import subprocess

import pandas as pd
import pytest

from iadbench.report.render import latex_escape, metric_table, render_html, render_latex
from iadbench.results.rows import make_row


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
    assert evil["washer"].link == "../logs/train/one_class/embedded/washer/<b>evil</b>/0.log"
    assert evil["Mean"].text == "–"  # no mean over an incomplete row


def test_html_escapes_and_labels_random_weights(results, repo_root):
    html = render_html(results, repo_root / "src" / "iadbench" / "report" / "templates", "T", with_figures=False)
    assert "&lt;b&gt;evil&lt;/b&gt;" in html and "<b>evil</b>" not in html
    assert 'id="random-weights"' in html
    assert "<b>80.00</b>" in html
    assert '<a href="../logs/train/one_class/embedded/washer/&lt;b&gt;evil&lt;/b&gt;/0.log">failed</a>' in html


def test_latex_escapes_and_uses_booktabs(results, repo_root):
    tex = render_latex(results, repo_root / "src" / "iadbench" / "report" / "templates", "T")
    assert r"\textbf{80.00}" in tex and r"\toprule" in tex
    assert "<b>evil</b>" in tex  # no HTML escaping in LaTeX; only LaTeX specials
    assert latex_escape("a_b & 50%") == r"a\_b \& 50\%"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (apt install texlive-latex-base)")
def test_latex_compiles(results, repo_root, tmp_path):
    body = render_latex(results, repo_root / "src" / "iadbench" / "report" / "templates", "T")
    document = ("\\documentclass{article}\\usepackage{booktabs}\\usepackage{graphicx}\\usepackage[T1]{fontenc}"
                f"\\begin{{document}}{body}\\end{{document}}")
    (tmp_path / "tables.tex").write_text(document)
    result = subprocess.run(check=False, args=["pdflatex", "-interaction=nonstopmode", "tables.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]


def test_reference_means_and_bad_reference_file(results, tmp_path):
    from iadbench.report.labels import Labels
    from iadbench.report.reproduction import read_reference_files, reproduction_tables

    reference = tmp_path / "ref.csv"
    reference.write_text("dataset,category,model,variant,metric,value,source,table\n"
                         "embedded,mean,padim,PaDiM-R18,image_AUROC,0.9,Some paper,Table 1\n"
                         "embedded,mean,nothere,X,image_AUROC,0.9,Some paper,Table 1\n")
    (table,) = reproduction_tables(results, read_reference_files([reference]), Labels())
    assert [row.model for row in table.rows] == ["PaDiM"] * 3 and table.kinds == ["paper"]
    mean = table.rows[-1]
    # Two of the 4 embedded categories: the published mean (over all 4) is not like with like.
    assert mean.category == "Mean (2 of 4)" and mean.ours == "70.00"
    assert mean.comparisons[0].value == "–"
    broken = tmp_path / "broken.csv"
    broken.write_text("model,value\npadim,0.9\n")
    with pytest.raises(ValueError, match="broken.csv"):
        read_reference_files([broken])


BENCHMARK_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


@pytest.fixture
def benchmark_files(tmp_path):
    """Snakemake benchmark TSVs as the workflow lays them out, plus files the summary must skip."""
    root = tmp_path / "results" / "benchmarks"
    files = {
        "train/embedded/washer/padim/0.tsv": "10.5\t0:00:10\t300.2\t900\t250\t260\t1.0\t2.0\t95.0\t9.8\n",
        "train/embedded/grass/padim/0.tsv": "4.5\t0:00:04\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n",
        "evaluate/embedded/washer/padim/0.tsv": "2.0\t0:00:02\t120.0\t500\t100\t110\t0.5\t0.1\t80.0\t1.9\n",
        "aggregate.tsv": "0.5\t0:00:00\t80.4\t400\t70\t75\t0.0\t0.1\t50.0\t0.4\n",
    }
    paths = []
    for name, line in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(BENCHMARK_HEADER + line)
        paths.append(path)
    empty = root / "evaluate" / "embedded" / "grass" / "padim" / "0.tsv"
    empty.parent.mkdir(parents=True)
    empty.write_text("")
    no_time = root / "gallery" / "embedded" / "washer" / "padim" / "0.tsv"
    no_time.parent.mkdir(parents=True)
    no_time.write_text("max_rss\n5.0\n")
    return [*paths, empty, no_time, root / "train" / "embedded" / "missing" / "padim" / "0.tsv"]


def test_job_resources_per_rule_skipping_missing_and_unreadable(benchmark_files):
    from iadbench.report.job_resources import job_resources

    summary = job_resources(benchmark_files)
    assert list(summary["rule"]) == ["train", "evaluate", "aggregate"]
    train, evaluate, aggregate = (row._asdict() for row in summary.itertuples(index=False))
    assert train == {"rule": "train", "jobs": 2, "total_s": 15.0, "max_s": 10.5, "max_rss_mb": 300.2}
    assert evaluate == {"rule": "evaluate", "jobs": 1, "total_s": 2.0, "max_s": 2.0, "max_rss_mb": 120.0}
    assert aggregate["jobs"] == 1 and aggregate["max_rss_mb"] == 80.4
    assert job_resources([]).empty and job_resources(benchmark_files[-3:]).empty


def test_html_job_resources_section(results, repo_root, benchmark_files):
    from iadbench.report.job_resources import job_resources

    templates = repo_root / "src" / "iadbench" / "report" / "templates"
    html = render_html(results, templates, "T", with_figures=False, resources=job_resources(benchmark_files))
    assert '<h2 id="job-resources">Job resources</h2>' in html
    assert "<tr><td>train</td><td>2</td><td>15.0</td><td>10.5</td><td>300</td></tr>" in html
    grass_only = job_resources(benchmark_files[1:2])  # max_rss "NA": not sampled
    assert "<tr><td>train</td><td>1</td><td>4.5</td><td>4.5</td><td>–</td></tr>" in render_html(
        results, templates, "T", with_figures=False, resources=grass_only)
    for resources in (None, job_resources([])):
        assert "Job resources" not in render_html(results, templates, "T", with_figures=False, resources=resources)
