"""Paper-ready output: printed names and category order, per-table LaTeX/CSV/Markdown, paper.tex and its PDF."""

import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from iadbench.config.load import validate_config
from iadbench.report import paper
from iadbench.report.labels import STUDY_MVTEC_AD_ORDER, Labels, default_category_label, labels_for
from iadbench.report.render import build_report, metric_table
from iadbench.report.templating import environment
from iadbench.results.rows import make_row, write_row

PDFLATEX = shutil.which("pdflatex")


def rows(dataset="mvtec_ad", models=("padim", "reverse_distillation"), categories=("bottle", "metal_nut", "screw"),
         seeds=(0,)):
    values = []
    for index, model in enumerate(models):
        for number, category in enumerate(categories):
            for seed in seeds:
                score = 0.6 + 0.1 * index + 0.05 * number + 0.01 * seed
                values.append(make_row({
                    "dataset": dataset, "category": category, "model": model, "seed": seed, "status": "ok",
                    "image_AUROC": score, "pixel_AUROC": score, "pixel_AUPRO": score - 0.1,
                    "pixel_AUPRO_30": score - 0.1, "pixel_AUPRO_05": score - 0.3, "weights": "random",
                    "images_per_second": 50.0 + index, "peak_rss_mb": 500.0 + index,
                    "finished_at": pd.Timestamp("2026-01-01", tz="UTC")}))
    return pd.concat(values, ignore_index=True)


def templates(repo_root: Path) -> Path:
    return repo_root / "src" / "iadbench" / "report" / "templates"


# Labels and order ------------------------------------------------------------------------------------------

def test_default_category_labels_are_title_case_words():
    assert default_category_label("metal_nut") == "Metal Nut"
    assert default_category_label("pcb1") == "Pcb1" and default_category_label("toothbrush") == "Toothbrush"


def test_mvtec_ad_follows_the_studys_order_and_others_keep_theirs():
    labels = labels_for(["padim"])
    assert labels.order("mvtec_ad", sorted(STUDY_MVTEC_AD_ORDER)) == list(STUDY_MVTEC_AD_ORDER)
    assert labels.order("mvtec_ad", ["bottle", "screw", "metal_nut"]) == ["screw", "metal_nut", "bottle"]
    assert labels.order("embedded", ["washer", "grass", "brick"]) == ["washer", "grass", "brick"]


def test_configured_order_and_labels_by_type_and_by_name():
    config = {"datasets": {"mine": {"type": "mvtec_ad"}, "other": {"type": "embedded"}},
              "report": {"categories": {"mvtec_ad": {"order": ["bottle"], "labels": {"metal_nut": "Nut (metal)"}},
                                        "other": {"order": ["grass"], "labels": {}}}}}
    labels = labels_for(["padim"], config)
    # The type's entry applies to a dataset of that type; unlisted categories follow as found.
    assert labels.order("mine", ["screw", "metal_nut", "bottle"]) == ["bottle", "screw", "metal_nut"]
    assert labels.category("mine", "metal_nut") == "Nut (metal)" and labels.category("mine", "screw") == "Screw"
    assert labels.order("other", ["washer", "grass"]) == ["grass", "washer"]
    # A config that only relabels MVTec AD keeps the study's order.
    relabel = labels_for(["padim"], {"report": {"categories": {"mvtec_ad": {"order": [], "labels": {"pill": "P"}}}}})
    assert relabel.order("mvtec_ad", ["bottle", "pill"]) == ["pill", "bottle"] and relabel.category("mvtec_ad",
                                                                                                    "pill") == "P"


def test_display_names_from_the_registry_overrides_and_unknown_models():
    labels = labels_for(["reverse_distillation", "patchcore", "my_model", "uflow"],
                        {"report": {"display_names": {"patchcore": "PatchCore-10%"}}})
    assert labels.models == {"reverse_distillation": "RD", "patchcore": "PatchCore-10%", "my_model": "my_model",
                             "uflow": "U-Flow"}
    # Two models printed alike would merge in the figures: both say which they are.
    clash = labels_for(["padim", "patchcore"], {"report": {"display_names": {"patchcore": "PaDiM"}}})
    assert clash.models == {"padim": "PaDiM (padim)", "patchcore": "PaDiM (patchcore)"}


def test_schema_validates_the_report_keys_and_defaults_to_the_studys_order(repo_root):
    schema = repo_root / "workflow" / "schemas" / "config.schema.yaml"
    config = validate_config({"datasets": {"embedded": {"type": "embedded"}}, "models": {"padim": {}},
                              "report": {"display_names": {"padim": "PaDiM-R18"},
                                         "categories": {"embedded": {"labels": {"washer": "Washer (drawn)"}}}}},
                             schema)
    assert config["report"]["categories"]["embedded"] == {"order": [], "labels": {"washer": "Washer (drawn)"}}
    default = validate_config({"datasets": {"embedded": {"type": "embedded"}}, "models": {"padim": {}}}, schema)
    assert default["report"]["categories"]["mvtec_ad"]["order"] == list(STUDY_MVTEC_AD_ORDER)
    assert default["report"]["display_names"] == {}
    assert all(Path(repo_root / path).exists() for path in default["report"]["references"])
    with pytest.raises(ValueError, match="report.categories"):
        validate_config({"datasets": {"embedded": {}}, "models": {"padim": {}},
                         "report": {"categories": {"embedded": {"ordre": ["washer"]}}}}, schema)


def test_tables_print_display_names_and_category_labels_in_order():
    table = metric_table(rows(), "mvtec_ad", "image_AUROC", "Image AUROC", labels_for(["padim", "reverse_distillation"]))
    assert table.columns == ["screw", "metal_nut", "bottle", "Mean"]  # the data keep folder names
    assert table.header == ["Screw", "Metal Nut", "Bottle", "Mean"]
    assert table.names == {"padim": "PaDiM", "reverse_distillation": "RD"}


# Per-table LaTeX, CSV and Markdown -------------------------------------------------------------------------

GRID = paper.Grid(name="demo-table", caption="demo: 50% & more", header=["Method", "A_1", "Mean"],
                  rows=[[paper.GridCell("PaDiM"), paper.GridCell("90.00", bold=True), paper.GridCell("80.00 | x")],
                        [paper.GridCell("RD"), paper.GridCell("70.00", dagger=True), paper.GridCell("–")]],
                  notes=["† flat maps"])


def test_float_is_scaled_only_when_wider_than_the_line(repo_root):
    tex = paper.latex_table(GRID, environment(templates(repo_root), latex=True))
    assert paper.SCALE_TO_LINEWIDTH == r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%"
    assert "\\label{tab:demo-table}\n" + paper.SCALE_TO_LINEWIDTH + "\n\\begin{tabular}{lrr}\n\\toprule\n" in tex
    assert "\\end{tabular}}\n" in tex
    assert "\\caption{demo: 50\\% \\& more}" in tex
    assert "PaDiM & \\textbf{90.00} & 80.00 | x \\\\" in tex
    assert "RD & 70.00\\textsuperscript{\\dag} & -- \\\\" in tex
    assert "\\begin{table}" in tex and "longtable" not in tex


def test_long_tables_are_longtables_with_spanning_titles(repo_root):
    grid = paper.Grid(name="long", caption="c", header=["Method", "value", "Δ"], rows=[[paper.GridCell("x")] * 3] * 2,
                      long=True, spans=[("", 1), ("Study", 2)], groups={1})
    tex = paper.latex_table(grid, environment(templates(repo_root), latex=True))
    assert "\\begin{longtable}{lrr}" in tex and "\\resizebox" not in tex
    assert "\\multicolumn{1}{c}{} & \\multicolumn{2}{c}{Study} \\\\\n\\cmidrule(lr){2-3}" in tex
    assert "x & x & x \\\\\n\\midrule\nx & x & x \\\\" in tex
    assert grid.flat_header == ["Method", "Study value", "Study Δ"]


def test_csv_and_markdown_writers():
    assert paper.csv_text(GRID) == "Method,A_1,Mean\nPaDiM,90.00,80.00 | x\nRD,70.00†,–\n"
    assert paper.markdown_text(GRID) == (
        "**demo: 50% & more**\n\n"
        "| Method | A_1 | Mean |\n"
        "| :--- | ---: | ---: |\n"
        "| PaDiM | **90.00** | 80.00 \\| x |\n"
        "| RD | 70.00† | – |\n\n"
        "† flat maps\n")


# paper.tex and paper.pdf -----------------------------------------------------------------------------------

def build(repo_root, tmp_path, frame, config=None, references=()):
    write_row(frame, tmp_path / "benchmark.parquet")
    out = tmp_path / "report"
    build_report(benchmark_path=tmp_path / "benchmark.parquet", template_dir=templates(repo_root),
                 html_path=out / "index.html", tex_path=out / "tables.tex", title="Paper {test} & 100%",
                 config=config, reference_paths=references)
    return out


def test_build_report_writes_every_table_and_figure_and_paper_tex(repo_root, tmp_path, monkeypatch):
    monkeypatch.setattr(paper.shutil, "which", lambda name: None)  # the PDF has its own test
    (tmp_path / "report" / "tables").mkdir(parents=True)
    (tmp_path / "report" / "tables" / "gone.tex").write_text("an earlier report's table")
    (tmp_path / "report" / "paper.pdf").write_text("an earlier PDF")
    out = build(repo_root, tmp_path, rows(), references=[repo_root / "config" / "reference" / "study_mvtec_ad.csv"])
    names = {path.name for path in (out / "tables").iterdir()}
    for stem in ("mvtec-ad-image-AUROC", "mvtec-ad-pixel-AUPRO-30", "mvtec-ad-pixel-AUPRO-05", "ranks",
                 "reproduction-mvtec-ad-image-AUROC"):
        assert {f"{stem}.tex", f"{stem}.csv", f"{stem}.md"} <= names, names
    assert "gone.tex" not in names
    assert not (out / "paper.pdf").exists()  # no pdflatex: no PDF, and no stale one
    document = (out / "paper.tex").read_text()
    assert document.startswith("% Paper \\{test\\} \\& 100\\%")
    assert "\\documentclass[11pt]{article}" in document and "\\usepackage{booktabs}" in document
    assert "\\input{tables/mvtec-ad-image-AUROC.tex}" in document
    figures = sorted(path.name for path in (out / "figures").iterdir())
    assert figures and all(f"{{figures/{name}}}" in document for name in figures)
    assert (out / "figures" / figures[0]).read_bytes().startswith(b"\x89PNG")
    header = (out / "tables" / "mvtec-ad-image-AUROC.csv").read_text().splitlines()[0]
    assert header == "Method,Screw,Metal Nut,Bottle,Mean"
    assert "| PaDiM |" in (out / "tables" / "mvtec-ad-image-AUROC.md").read_text()
    all_tables = (out / "tables.tex").read_text()
    assert all((out / "tables" / f"{stem}.tex").read_text() in all_tables for stem in ("ranks", "mvtec-ad-image-AUROC"))


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex not installed (apt install texlive-latex-base)")
def test_paper_compiles_to_pdf(repo_root, tmp_path):
    frame = rows(seeds=(0, 1))
    frame.loc[frame["model"] == "padim", "model"] = "pa_dim <&>"  # text is data, in every output
    config = {"datasets": {"mvtec_ad": {"type": "mvtec_ad"}}, "report": {"display_names": {"pa_dim <&>": "P_a ~^ #"}}}
    out = build(repo_root, tmp_path, frame, config, references=sorted((repo_root / "config" / "reference").glob("*.csv")))
    assert (out / "paper.pdf").read_bytes().startswith(b"%PDF")
    assert "P\\_a \\textasciitilde{}\\textasciicircum{} \\#" in (out / "tables" / "mvtec-ad-image-AUROC.tex").read_text()


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex not installed (apt install texlive-latex-base)")
def test_failed_compile_is_logged_and_leaves_no_pdf(tmp_path, caplog):
    tex = tmp_path / "paper.tex"
    tex.write_text("\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}\n")
    (tmp_path / "paper.pdf").write_text("stale")
    with caplog.at_level(logging.WARNING, logger="iadbench.report.paper"):
        assert paper.compile_pdf(tex) is None
    assert not (tmp_path / "paper.pdf").exists()
    assert "pdflatex failed" in caplog.text and "Undefined control sequence" in caplog.text


def test_report_config_keys_reach_the_html(repo_root, tmp_path, monkeypatch):
    monkeypatch.setattr(paper.shutil, "which", lambda name: None)
    config = yaml.safe_load("report: {display_names: {padim: PaDiM-R18}, categories: {mvtec_ad: {labels: "
                            "{metal_nut: Metal nut}}}}\ndatasets: {mvtec_ad: {type: mvtec_ad}}")
    html = (build(repo_root, tmp_path, rows(), config) / "index.html").read_text()
    assert "<tr><td>PaDiM-R18</td>" in html and "<th>Metal nut</th>" in html and "<tr><td>RD</td>" in html
    assert html.index("<th>Screw</th>") < html.index("<th>Metal nut</th>") < html.index("<th>Bottle</th>")


def test_labels_without_config_are_the_defaults():
    assert Labels().model("patchcore") == "PatchCore" and Labels().category("x", "metal_nut") == "Metal Nut"
