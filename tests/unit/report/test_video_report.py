"""The report's video section: its own tables and frame-score plots; video rows never reach the image tables."""

import base64
import math

import numpy as np
import pandas as pd
import pytest

from iadbench.report import video as video_report
from iadbench.report.labels import Labels
from iadbench.report.render import render_html, render_latex, report_context
from iadbench.results.rows import make_row

STAMP = pd.Timestamp("2026-01-01", tz="UTC")


def image_row(model, category, seed, auroc, status="ok"):
    row = make_row({"dataset": "embedded", "category": category, "model": model, "seed": seed, "status": status,
                    "image_AUROC": auroc, "pixel_AUROC": auroc, "weights": "random", "finished_at": STAMP})
    return row.assign(track="image")


def video_row(model, category, seed, micro, macro, excluded=0, n_videos=3, status="ok", pixel=math.nan,
              dataset="ped"):
    row = make_row({"dataset": dataset, "category": category, "model": model, "seed": seed, "status": status,
                    "pixel_AUROC": pixel, "weights": "random", "finished_at": STAMP,
                    "error_type": None if status == "ok" else "RuntimeError",
                    "error_tail": None if status == "ok" else "boom"})
    return row.assign(track="video", frame_AUROC=micro, frame_AUROC_macro=macro, n_videos=n_videos,
                      n_videos_excluded_macro=excluded, n_frames=120)


def rows(*parts):
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def mixed():
    return rows(
        image_row("padim", "washer", 0, 0.9), image_row("dfm", "washer", 0, 0.7),
        video_row("ai_vad", "ped2", 0, 0.8, 0.75, excluded=1),
        video_row("ai_vad", "ped2", 1, 0.6, 0.65, excluded=1),
        video_row("fuvas", "ped2", 0, 0.7, 0.9),
        video_row("fuvas", "ped1", 0, math.nan, math.nan, status="failed"),
        video_row("ai_vad", "ped1", 0, 0.55, math.nan, excluded=3),
    )


def cells(table, model):
    return dict(zip(table.columns, [cell.text for cell in dict(table.rows)[model]], strict=True))


def test_split_tracks():
    frame = rows(image_row("padim", "washer", 0, 0.9), video_row("ai_vad", "ped2", 0, 0.8, 0.7))
    image, video = video_report.split_tracks(frame)
    assert list(image["model"]) == ["padim"] and list(video["model"]) == ["ai_vad"]
    old = frame.drop(columns="track")  # rows from before the video track are image rows
    assert len(video_report.split_tracks(old)[0]) == 2 and video_report.split_tracks(old)[1].empty
    missing = frame.assign(track=pd.array([None, "video"], dtype="string"))
    assert list(video_report.split_tracks(missing)[0]["model"]) == ["padim"]


def test_micro_and_macro_tables(mixed):
    tables = video_report.video_tables(mixed, Labels())
    assert [(table.dataset, table.metric) for table in tables] == [("ped", "frame_AUROC"),
                                                                    ("ped", "frame_AUROC_macro")]
    micro, macro = tables
    assert cells(micro, "ai_vad") == {"ped2": "70.00 ± 14.14", "ped1": "55.00", "Mean": "62.50"}
    assert cells(micro, "fuvas") == {"ped2": "70.00", "ped1": "failed", "Mean": "–"}
    # two of three videos usable in both seeds; ped1: no video has both classes, so no macro at all
    assert cells(macro, "ai_vad") == {"ped2": "70.00 ± 7.07 (2/3 videos)", "ped1": "– (0/3 videos)", "Mean": "–"}
    assert cells(macro, "fuvas")["ped2"] == "90.00"  # nothing excluded: no count
    assert macro.notes == [video_report.EXCLUDED_NOTE] and micro.notes == []
    assert dict(micro.rows)["ai_vad"][0].bold and dict(micro.rows)["fuvas"][0].bold  # tie at 70.00
    assert dict(macro.rows)["fuvas"][0].bold and not dict(macro.rows)["ai_vad"][0].bold


def test_pixel_tables_only_where_masks_gave_values(mixed):
    assert [t.metric for t in video_report.video_tables(mixed)] == ["frame_AUROC", "frame_AUROC_macro"]
    with_masks = rows(mixed, video_row("fuvas", "ped2", 1, 0.7, 0.9, pixel=0.6))
    assert "pixel_AUROC" in [t.metric for t in video_report.video_tables(with_masks)]


def test_failed_video_jobs_still_get_their_tables():
    failed = rows(video_row("ai_vad", "ped2", 0, math.nan, math.nan, status="failed"))
    tables = video_report.video_tables(failed)
    assert [(t.metric, cells(t, "ai_vad")["ped2"]) for t in tables] == [("frame_AUROC", "failed"),
                                                                        ("frame_AUROC_macro", "failed")]


def test_image_tables_ranks_and_figures_keep_out_video_rows(mixed):
    context = report_context(mixed, "T", with_figures=True)
    assert {table.dataset for table in context["tables"]} == {"embedded"}
    assert "ped" not in {figure["caption"].split(":")[0] for figure in context["figures"]}
    assert not any(grid.name.startswith("ped") for grid in context["grids"])
    assert [grid.name for grid in context["video"]["grids"]] == [
        "video-ped-frame-AUROC", "video-ped-frame-AUROC-macro", "video-test-sets"]
    assert context["n_rows"] == len(mixed)
    assert [job["model"] for job in context["failed"]] == ["fuvas"]  # a failed video job is still listed
    image_only = report_context(mixed[mixed["track"] == "image"], "T")
    assert [t.label for t in context["tables"]] == [t.label for t in image_only["tables"]]
    assert context["rank_rows"] == image_only["rank_rows"]


def test_html_and_latex_of_both_tracks(mixed, repo_root):
    templates = repo_root / "src" / "iadbench" / "report" / "templates"
    html = render_html(mixed, templates, "T", with_figures=False)
    assert 'id="video"' in html and 'data-metric="frame_AUROC_macro"' in html
    assert "70.00 ± 7.07 (2/3 videos)" in html and video_report.EXCLUDED_NOTE.split(":")[0] in html
    assert html.count('class="metric"') == 2  # embedded image and pixel AUROC: no video table among them
    latex = render_latex(mixed, templates, "T")
    assert r"\label{tab:video-ped-frame-AUROC-macro}" in latex and "(2/3 videos)" in latex
    assert r"\label{tab:embedded-image-AUROC}" in latex


def test_a_benchmark_of_video_rows_only_renders(mixed, repo_root):
    templates = repo_root / "src" / "iadbench" / "report" / "templates"
    video = mixed[mixed["track"] == "video"].reset_index(drop=True)
    html = render_html(video, templates, "T", with_figures=True)
    assert 'id="video"' in html and 'class="metric"' not in html and 'id="ranks"' not in html
    assert r"\label{tab:video-ped-frame-AUROC}" in render_latex(video, templates, "T")


def test_no_video_section_without_video_rows(mixed, repo_root):
    html = render_html(mixed[mixed["track"] == "image"], repo_root / "src" / "iadbench" / "report" / "templates", "T",
                       with_figures=False)
    assert 'id="video"' not in html


def test_test_set_summary(mixed):
    summary = report_context(mixed, "T")["video"]["summary"]
    assert summary == [{"dataset": "ped", "category": "Ped2", "videos": "3", "frames": "120", "excluded": "0, 1"},
                       {"dataset": "ped", "category": "Ped1", "videos": "3", "frames": "120", "excluded": "3"}]


# Frame scores and their plots ---------------------------------------------------------------------------------


def write_predictions(root, job, **arrays):
    dataset, category, model, seed = job
    path = root / "results" / "train" / dataset / category / model / str(seed) / "predictions.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def video_arrays(scores_of_video):
    """scores_of_video: {video: (labels, scores)}; frames numbered from 0 per video."""
    ids, indices, labels, scores = [], [], [], []
    for video, (video_labels, video_scores) in scores_of_video.items():
        ids += [video] * len(video_labels)
        indices += list(range(len(video_labels)))
        labels += list(video_labels)
        scores += list(video_scores)
    return {"video_ids": np.array(ids), "frame_indices": np.array(indices), "labels": np.array(labels, np.uint8),
            "scores": np.array(scores), "maps": np.zeros((len(ids), 4, 4), np.float32)}


@pytest.fixture
def predictions(tmp_path):
    arrays = video_arrays({"Test001": ([0, 0, 1, 1, 0], [0.1, 0.2, 0.8, 0.9, 0.3]),
                           "Test002": ([1, 1, 1], [0.5, 0.6, 0.7])})
    return [
        write_predictions(tmp_path, ("ped", "ped2", "ai_vad", 1), **arrays),
        write_predictions(tmp_path, ("ped", "ped2", "ai_vad", 0), **arrays),
        write_predictions(tmp_path, ("ped", "ped2", "fuvas", 0), **arrays),
        write_predictions(tmp_path, ("ped", "ped1", "fuvas", 0), scores=np.zeros(0)),  # a failed job
        write_predictions(tmp_path, ("embedded", "washer", "padim", 0), scores=np.ones(2), labels=np.ones(2)),
    ]


def test_read_frame_scores_keeps_video_jobs_with_frames(predictions):
    found = video_report.read_frame_scores(predictions)
    assert sorted((job.category, job.model, job.seed) for job in found) == [
        ("ped2", "ai_vad", 0), ("ped2", "ai_vad", 1), ("ped2", "fuvas", 0)]
    only = video_report.read_frame_scores(predictions, {("ped", "ped2", "fuvas", 0)})
    assert [(job.model, list(job.frame_indices[:3])) for job in only] == [("fuvas", [0, 1, 2])]


def test_read_frame_scores_names_a_bad_file(tmp_path):
    arrays = video_arrays({"v": ([0, 1], [0.1, 0.2])})
    path = write_predictions(tmp_path, ("ped", "ped2", "fuvas", 0), **{**arrays, "frame_indices": np.arange(3)})
    with pytest.raises(ValueError, match=r"predictions\.npz: per-frame arrays differ in length"):
        video_report.read_frame_scores([path])
    del arrays["labels"]
    path = write_predictions(tmp_path, ("ped", "ped2", "fuvas", 0), **arrays)
    with pytest.raises(ValueError, match=r"fuvas/0/predictions\.npz.*lack labels"):
        video_report.read_frame_scores([path])


def test_one_figure_per_test_video_with_a_panel_per_model(predictions):
    found = video_report.read_frame_scores(predictions)
    figures = video_report.frame_score_figures(found, Labels())
    assert [figure["stem"] for figure in figures] == ["video-ped-Ped2-Test001-frame-scores",
                                                      "video-ped-Ped2-Test002-frame-scores"]
    assert "video Test001" in figures[0]["caption"]
    assert base64.b64decode(figures[0]["png"]).startswith(b"\x89PNG")


def test_lowest_seed_per_model_is_plotted(predictions, monkeypatch):
    drawn = []
    monkeypatch.setattr(video_report, "frame_score_plot", lambda panels, title: drawn.append(panels) or "")
    video_report.frame_score_figures(video_report.read_frame_scores(predictions), Labels())
    labels = Labels()
    assert [name for name, *_ in drawn[0]] == [f"{labels.model('ai_vad')} (seed 0)", f"{labels.model('fuvas')} (seed 0)"]
    _, indices, labels, scores = drawn[1][0]  # Test002 of ai_vad: only its own frames
    assert list(indices) == [0, 1, 2] and list(labels) == [1, 1, 1] and list(scores) == [0.5, 0.6, 0.7]


def test_anomalous_spans_shade_runs_of_frames():
    spans = video_report._anomalous_spans(np.array([5, 0, 1, 2, 3, 4, 7, 8]), np.array([1, 0, 1, 1, 0, 0, 1, 0]))
    assert spans == [(0.5, 2.5), (4.5, 5.5), (6.5, 7.5)]
    assert video_report._anomalous_spans(np.arange(3), np.zeros(3)) == []


def test_report_figures_include_the_frame_score_plots(mixed, predictions):
    frame_scores = video_report.read_frame_scores(predictions, video_report.job_keys(mixed))
    context = report_context(mixed, "T", with_figures=True, frame_scores=frame_scores)
    from iadbench.report.render import all_figures

    names = [figure["name"] for figure in all_figures(context)]
    assert "video-ped-Ped2-Test001-frame-scores" in names and "video-ped-Ped2-Test002-frame-scores" in names


def test_build_report_writes_the_video_tables_and_plots(mixed, predictions, tmp_path, repo_root):
    """Through the Parquet file (the row schema keeps ``track``) to every output the report writes."""
    from iadbench.report.render import build_report
    from iadbench.results.rows import write_row

    write_row(mixed, tmp_path / "benchmark.parquet")
    out = tmp_path / "report"
    build_report(benchmark_path=tmp_path / "benchmark.parquet", template_dir=repo_root / "src" / "iadbench" / "report" / "templates",
                 html_path=out / "index.html", tex_path=out / "tables.tex", title="T", prediction_paths=predictions)
    html = (out / "index.html").read_text()
    assert 'id="video"' in html and html.count('class="metric"') == 2
    assert "(2/3 videos)" in (out / "tables" / "video-ped-frame-AUROC-macro.csv").read_text()
    assert r"\input{tables/video-ped-frame-AUROC.tex}" in (out / "paper.tex").read_text()
    plots = sorted(path.name for path in (out / "figures").glob("video-*.png"))
    assert plots == ["video-ped-Ped2-Test001-frame-scores.png", "video-ped-Ped2-Test002-frame-scores.png"]
