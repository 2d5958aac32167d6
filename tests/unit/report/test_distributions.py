"""Score distributions and hardest images in the report, and the report built from the jobs' evidence files."""

import base64
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stats"))  # the significance tests' table builder
from test_significance import build

from iadbench.report import figures, paper
from iadbench.report.distributions import hardest_images, panels
from iadbench.report.render import build_report, render_html
from iadbench.results.rows import make_row, write_row
from iadbench.run.evaluate import write_scores
from iadbench.stats.evidence import JobEvidence, read_evidence
from iadbench.stats.uncertainty import save_replicates


def scores_table(normal, defective):
    paths = [f"/x/test/good/{index}.png" for index in range(len(normal))]
    paths += [f"/x/test/crack/{index}.png" for index in range(len(defective))]
    return pd.DataFrame({"image_path": paths, "label": [0] * len(normal) + [1] * len(defective),
                         "image_score": [*normal, *defective]})


def rows(*jobs):
    return pd.concat([make_row({"dataset": "d", "category": "c", "model": model, "seed": seed, "status": status,
                                "image_F1_threshold": threshold, "finished_at": pd.Timestamp("2026-01-01", tz="UTC")})
                      for model, seed, status, threshold in jobs], ignore_index=True)


def test_panels_take_each_models_first_ok_seed_with_scores():
    frame = rows(("a", 0, "failed", None), ("a", 1, "ok", 0.7), ("a", 2, "ok", 0.9), ("b", 0, "ok", None))
    evidence = {("d", "c", "a", seed): JobEvidence(scores_table([0.1], [0.8])) for seed in (0, 1, 2)}
    (panel,) = panels(frame, evidence, "d", "c")  # b has no scores
    assert (panel.model, panel.seed, panel.threshold) == ("a", 1, 0.7)
    assert list(panel.normal) == [0.1] and list(panel.defective) == [0.8]


def test_hardest_images_rank_pairs_by_the_share_of_the_other_class_on_the_wrong_side():
    frame = rows(("a", 0, "ok", 2.5), ("b", 0, "ok", 25.0))
    evidence = {("d", "c", "a", 0): JobEvidence(scores_table([0, 1, 2], [0.5, 3, 4])),
                # b's scores are ten times larger; it scores crack/1 lowest of all and good/2 above crack/0
                ("d", "c", "b", 0): JobEvidence(scores_table([0, 10, 35], [30, -1, 40]))}
    hardest = hardest_images(panels(frame, evidence, "d", "c"), n=2)
    defective = [(row["image"], row["model"], row["score"], row["share"]) for row in hardest if row["kind"] == "defective"]
    normal = [(row["image"], row["model"], row["share"]) for row in hardest if row["kind"] == "defect-free"]
    assert defective == [("crack/1.png", "b", "-1", "100%"), ("crack/0.png", "a", "0.5", "67%")]
    # Tied shares: the models' order, then the more extreme score (a's good/2 before its good/1).
    assert normal == [("good/2.png", "b", "67%"), ("good/2.png", "a", "33%")]
    assert hardest[0]["threshold"] == "25" and hardest[0]["seed"] == "0"


def test_score_distribution_figure_renders_with_odd_panels():
    png = figures.score_distributions([("A (seed 0)", np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.9]), 0.4),
                                       ("B (seed 0)", np.array([1.0, 1.0]), np.array([]), float("nan")),
                                       ("C (seed 0)", np.array([np.nan, 2.0]), np.array([3.0]), 2.5)], "d: c")
    assert base64.b64decode(png).startswith(b"\x89PNG")


def test_report_shows_distributions_intervals_and_marks(repo_root):
    frame, evidence = build(("best", "twin", "worse"))
    html = render_html(frame, repo_root / "src" / "iadbench" / "report" / "templates", "T", with_figures=True, evidence=evidence)
    assert '<h2 id="score-distributions">Score distributions</h2>' in html
    assert "d: C1: image scores of defect-free vs defective test images" in html
    assert '<table class="hardest">' in html and "crack/" in html
    assert 'class="not-worse" title="95% CI [' in html and "(logit bootstrap over test images, 400 resamples)" in html
    assert "‡</td>" in html and "not significantly worse than the column&#39;s best on the same test images" in html
    assert "corrected together by Benjamini-Hochberg" in html and "α = 0.05" in html


def write_evidence_files(root, frame, evidence):
    """The evaluate rule's layout: results/evaluate/<dataset>/<category>/<model>/<seed>/{scores.parquet,
    bootstrap.npz}; one job left with empty files (as a failed evaluation writes them)."""
    score_paths, bootstrap_paths = [], []
    for (dataset, category, model, seed), job in evidence.items():
        folder = root / "results" / "evaluate" / dataset / category / model / str(seed)
        folder.mkdir(parents=True)
        write_scores(job.scores.assign(defect_type="x"), folder / "scores.parquet")
        save_replicates(folder / "bootstrap.npz", list(job.replicates), np.stack(list(job.replicates.values()), axis=1))
        score_paths.append(folder / "scores.parquet")
        bootstrap_paths.append(folder / "bootstrap.npz")
    return score_paths, bootstrap_paths


def test_build_report_reads_the_evidence_files_into_every_output(repo_root, tmp_path, monkeypatch):
    monkeypatch.setattr(paper.shutil, "which", lambda name: None)  # no PDF here
    frame, evidence = build(("best", "twin", "worse"))
    score_paths, bootstrap_paths = write_evidence_files(tmp_path, frame, evidence)
    (tmp_path / "broken.npz").write_text("not a zip")
    read = read_evidence(score_paths, [*bootstrap_paths, tmp_path / "broken.npz"])
    assert set(read) == set(evidence) and list(read["d", "c1", "twin", 0].replicates) == list(
        evidence["d", "c1", "twin", 0].replicates)
    write_row(frame, tmp_path / "benchmark.parquet")
    out = tmp_path / "report"
    out.mkdir()
    (out / "dataset-gone.html").write_text("an earlier paged report's page")  # one page now: it must go
    build_report(benchmark_path=tmp_path / "benchmark.parquet", template_dir=repo_root / "src" / "iadbench" / "report" / "templates",
                 html_path=out / "index.html", tex_path=out / "tables.tex", title="T", score_paths=score_paths,
                 bootstrap_paths=bootstrap_paths)
    csv = (out / "tables" / "d-image-AUROC.csv").read_text()
    twin = next(line for line in csv.splitlines() if line.startswith("twin,"))
    assert twin.split(",")[1].endswith("‡")
    markdown = (out / "tables" / "d-image-AUROC.md").read_text()
    assert "the table's 2 comparisons corrected together by Benjamini-Hochberg" in markdown
    tex = (out / "tables" / "d-image-AUROC.tex").read_text()
    assert "\\textsuperscript{\\ddag}" in tex and "$\\alpha$ = 0.05" in tex
    figure_names = [path.name for path in (out / "figures").iterdir()]
    assert any(name == "d-C1-score-distributions.png" for name in figure_names), figure_names
    assert (out / "tables" / "hardest-images-d.csv").read_text().startswith("Category,Kind,Image,Method,")
    assert "95% CI [" in (out / "index.html").read_text()
    assert sorted(path.name for path in out.glob("*.html")) == ["index.html"]



def test_figures_drawn_in_worker_processes_come_back_in_order(monkeypatch):
    from iadbench.report import figure_set

    jobs = [(str.upper, f"figure {index}") for index in range(figure_set.POOL_FROM + 3)]
    assert figure_set.draw(jobs) == [f"FIGURE {index}" for index in range(len(jobs))]  # a pool where 2+ cores
    monkeypatch.setattr(figure_set, "POOL_FROM", 10**6)
    assert figure_set.draw(jobs) == [f"FIGURE {index}" for index in range(len(jobs))]  # in this process
