"""The continual report's renderers: data in, HTML/LaTeX out, values escaped, best bold."""

import pandas as pd
import pytest

from iadbench.continual.report import continual_context, render_html, render_latex, summary_tables
from iadbench.continual.results import summary_table

TEMPLATES = "src/iadbench/report/templates"


def matrix_frame() -> pd.DataFrame:
    rows = []
    values = {("naive", 0): [[0.9], [0.5, 0.8]], ("naive", 1): [[0.8], [0.6, 0.8]],
              ("accumulate", 0): [[0.9], [0.9, 0.8]], ("accumulate", 1): [[0.8], [0.8, 0.8]]}
    for (strategy, seed), grid in values.items():
        for step, row in enumerate(grid, 1):
            for task, value in enumerate(row, 1):
                rows.append({"sequence": "s<1>", "model": "patchcore", "seed": seed, "strategy": strategy,
                             "step": step, "task": task, "dataset": "embedded", "categories": ["a&b", "c_d"][task - 1],
                             "n_categories": 1, "status": "ok", "error_tail": "", "image_AUROC": value,
                             "pixel_AUROC": value})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def context():
    matrix = matrix_frame()
    return continual_context(matrix, summary_table(matrix), "t & {x}", weights="random")


def test_table_mean_std_over_seeds_and_best_bold():
    matrix = matrix_frame()
    table = summary_tables(summary_table(matrix))[0]
    assert table["metric"] == "image_AUROC"
    naive, accumulate = (next(row for row in table["rows"] if row["strategy"] == name) for name in ("naive", "accumulate"))
    # FM: naive seeds 0.4 and 0.2 → 30.00 ± 14.14; accumulate 0 and 0.
    assert naive["cells"][1].text == "30.00 ± 14.14" and not naive["cells"][1].bold
    assert accumulate["cells"][1].text == "0.00 ± 0.00" and accumulate["cells"][1].bold
    assert accumulate["cells"][0].bold and naive["seeds"] == 2


def test_html_is_escaped_and_has_the_figures(repo_root, context):
    html = render_html(context, repo_root / TEMPLATES)
    assert "t &amp; {x}: continual setting" in html and "a&amp;b" in html and "s&lt;1&gt;" in html
    assert 'id="random-weights"' in html
    assert html.count("data:image/png;base64,") == 4  # per metric: one heatmap (one model), one curve
    assert "<b>0.00 ± 0.00</b>" in html


def test_latex_is_escaped(repo_root):
    matrix = matrix_frame()
    tex = render_latex(continual_context(matrix, summary_table(matrix), "t & {x}", with_figures=False),
                       repo_root / TEMPLATES)
    assert r"t \& \{x\}" in tex and r"a\&b" in tex and r"c\_d" in tex
    assert r"\textbf{0.00 $\pm$ 0.00}" in tex and "\\toprule" in tex
    assert "data:image" not in tex and "1 & 85.00 & -- " in tex  # the accuracy matrices (seed means) as tables
