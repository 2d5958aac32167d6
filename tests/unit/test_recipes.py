"""docs/recipes.md, followed: an invented metric registered as its recipe says (one entry in the one table of
metric columns) reaches the row schema, the row writer and the report's tables."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ENTRY = '    MetricColumn("image_invented", "Image Invented", "image", report_order=8),\n'

# Run against the edited copy of the package.
CHECK = r"""
import pandas as pd
from iadbench.report.render import render_html, render_latex
from iadbench.results.columns import metric_title
from iadbench.results.rows import IMAGE_METRICS, ROW_SCHEMA, make_row
from iadbench.report.tables import report_metrics

assert ROW_SCHEMA["image_invented"] == "float64" and "image_invented" in IMAGE_METRICS
assert metric_title("image_invented") == "Image Invented"
rows = pd.concat([make_row({"dataset": "d", "category": category, "model": model, "seed": 0, "status": "ok",
                            "weights": "random", "image_AUROC": 0.5 + index / 10, "image_invented": 0.25 + index / 10,
                            "finished_at": pd.Timestamp("2026-01-01", tz="UTC")})
                  for index, (model, category) in enumerate([("padim", "a"), ("padim", "b"), ("dfm", "a"), ("dfm", "b")])])
assert report_metrics(rows)[-1] == "image_invented"
html = render_html(rows, None, "T", with_figures=False)
assert "Image Invented" in html and "35.00" in html, html[:500]
assert "Image Invented" in render_latex(rows, None, "T")
"""


def test_a_metric_added_as_the_recipe_says_reaches_schema_and_report(repo_root, tmp_path):
    recipe = (repo_root / "docs" / "recipes.md").read_text()
    assert "src/iadbench/results/columns.py" in recipe and "`MetricColumn` in `METRICS`" in recipe
    package = tmp_path / "src" / "iadbench"
    shutil.copytree(repo_root / "src" / "iadbench", package, ignore=shutil.ignore_patterns("__pycache__"))
    columns = package / "results" / "columns.py"
    text = columns.read_text()
    anchor = "METRICS: tuple[MetricColumn, ...] = (\n"
    assert anchor in text
    columns.write_text(text.replace(anchor, anchor + ENTRY, 1))
    done = subprocess.run([sys.executable, "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(tmp_path / "src"), "PATH": "/usr/bin:/bin",
                               "HOME": str(Path.home())})
    assert done.returncode == 0, done.stderr[-3000:]
