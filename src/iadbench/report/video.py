"""The report's video section: rows of the video track (``track == "video"``) get their own tables
(sequences × models: frame AUROC micro and macro, pixel metrics where masks exist) and one frame-score plot
per test video; they never enter the image tables, ranks, tests, reproduction or score distributions.

Micro frame AUROC pools the frames of every test video (anomalib's frame AUROC); macro is the mean of the
videos' own frame AUROCs over the videos having both normal and anomalous frames, the others excluded and
counted (:func:`iadbench.metrics.measures.frame_auroc_macro`).

Renderers are pure: rows (a DataFrame) and predictions in, grids, figures (base64 PNG) and an HTML fragment
out; only :func:`read_frame_scores` reads files (the video jobs' ``predictions.npz``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from iadbench.report import paper
from iadbench.report.figures import _png
from iadbench.report.labels import Labels
from iadbench.report.tables import Table, metric_table, report_metrics
from iadbench.report.templating import slug
from iadbench.results.columns import metric_names, metric_title

logger = logging.getLogger(__name__)

TRACK_COLUMN = "track"
VIDEO_TRACK = "video"
FRAME_METRICS = {name: metric_title(name) for name in metric_names("frame")}
EXCLUDED_COLUMN = "n_videos_excluded_macro"
VIDEOS_COLUMN = "n_videos"
FRAME_DEFINITIONS = (
    "Frame AUROC (micro) pools the frames of every test video of the sequence into one ROC curve (anomalib's "
    "frame-level AUROC). Frame AUROC (macro) is the mean over test videos of each video's own frame AUROC; a "
    "video whose frames are all anomalous or all normal has no AUROC and is left out of that mean.")
EXCLUDED_NOTE = ("(k/n videos): the macro mean is over the k of the n test videos that have both normal and "
                 "anomalous frames; the other n − k (all frames of one class) are excluded.")
NO_TEST_NOTE = "Video tables: no significance marks (‡); seeds are averaged as in the image tables."
PLOT_NOTE = ("Frame scores of each test video, one panel per model (its first seed with predictions; each on "
             "its own scale: raw scores of different models are not comparable), ground-truth anomalous frames "
             "shaded.")


def split_tracks(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(image rows, video rows): a row is a video row when its ``track`` is "video"; rows without a track
    (no column, or missing: rows from before the video track) are image rows."""
    if TRACK_COLUMN not in frame:
        return frame, frame.iloc[0:0]
    is_video = frame[TRACK_COLUMN].astype("string").eq(VIDEO_TRACK).fillna(False).astype(bool)
    return frame[~is_video], frame[is_video]


def job_keys(frame: pd.DataFrame) -> set[tuple[str, str, str, int]]:
    """(dataset, category, model, seed) of every video row of ``frame``."""
    rows = split_tracks(frame)[1]
    return {(str(d), str(c), str(m), int(s)) for d, c, m, s in
            rows[["dataset", "category", "model", "seed"]].itertuples(index=False, name=None)}


def _excluded_text(rows: pd.DataFrame) -> str:
    """" (k/n videos)" for a cell whose macro mean left videos out; "" when none was (or unknown)."""
    if EXCLUDED_COLUMN not in rows or VIDEOS_COLUMN not in rows:
        return ""
    ok = rows[rows["status"] == "ok"]
    excluded = {int(value) for value in ok[EXCLUDED_COLUMN].dropna()}
    videos = {int(value) for value in ok[VIDEOS_COLUMN].dropna()}
    if not excluded or excluded == {0}:
        return ""
    n = max(videos) if videos else None
    used = ", ".join(str(n - value) if n is not None else "?" for value in sorted(excluded, reverse=True))
    return f" ({used}/{n if n is not None else '?'} videos)"


def video_metrics(rows: pd.DataFrame) -> list[str]:
    """The video rows' metric columns: frame AUROC micro and macro always (even when every job failed: its
    "failed" cells say so), then the pixel metrics holding a value."""
    pixel = [metric for metric in report_metrics(rows) if metric.startswith("pixel_")]
    return [*(metric for metric in FRAME_METRICS if metric in rows),
            *(metric for metric in pixel if metric in rows and rows[metric].notna().any())]


def video_tables(frame: pd.DataFrame, labels: Labels | None = None) -> list[Table]:
    """Sequences (categories) × models of each video metric, per dataset, from the video rows of ``frame``.

    Cells as in the image tables (:func:`iadbench.report.tables.metric_table`: seeds averaged, failures, "–"), no
    significance tests; macro cells say "(k/n videos)" when the mean left videos out.
    """
    labels = labels or Labels()
    rows = split_tracks(frame)[1]
    tables = []
    for dataset in dict.fromkeys(rows["dataset"]):
        of_dataset = rows[rows["dataset"] == dataset]
        for metric in video_metrics(of_dataset):
            title = FRAME_METRICS.get(metric) or metric_title(metric)
            table = metric_table(of_dataset, dataset, metric, title, labels)
            table.notes = []  # metric_table's notes are about image-level tests, never run here
            if metric == "frame_AUROC_macro":
                categories = table.columns[:-1]
                for model, cells in table.rows:
                    for category, cell in zip(categories, cells, strict=False):
                        cell_rows = of_dataset[(of_dataset["model"] == model) & (of_dataset["category"] == category)]
                        if not cell.failed:  # "– (0/3 videos)": no video had both classes
                            cell.text += _excluded_text(cell_rows)
                if any("videos)" in cell.text for _, cells in table.rows for cell in cells):
                    table.notes.append(EXCLUDED_NOTE)
            tables.append(table)
    return tables


def video_grids(tables: list[Table], random_weights: bool) -> list[paper.Grid]:
    """The video tables as grids (LaTeX, CSV, Markdown), named ``video-<dataset>-<metric>``."""
    suffix = " (random weights, not paper numbers)" if random_weights else ""
    grids = []
    for table in tables:
        grid = paper.metric_grid(table, f"{suffix}. Video track; best per column in bold.",
                                 [*table.notes, FRAME_DEFINITIONS])
        grid.name = f"video-{table.label}"
        grids.append(grid)
    return grids


# Frame-score plots ------------------------------------------------------------------------------------------


@dataclass
class FrameScores:
    """One video job's test frames: the job key, and per frame its video, index, label and score."""

    dataset: str
    category: str
    model: str
    seed: int
    video_ids: np.ndarray
    frame_indices: np.ndarray
    labels: np.ndarray
    scores: np.ndarray


FRAME_KEYS = ("video_ids", "frame_indices", "labels", "scores")


def read_frame_scores(paths, jobs: set[tuple[str, str, str, int]] | None = None) -> list[FrameScores]:
    """The frame scores in predictions files ``results/train/<dataset>/<category>/<model>/<seed>/predictions.npz``
    (only the small per-frame arrays are read, never the maps).

    ``jobs``: keep only these (dataset, category, model, seed) (the video rows); files of failed jobs (no frames)
    and files without ``video_ids`` (image jobs) are skipped. A video file lacking another key, or whose arrays
    differ in length, is an error naming the file.
    """
    found = []
    for path in map(Path, paths):
        dataset, category, model, seed = path.parts[-5:-1]
        key = (dataset, category, model, int(seed))
        if jobs is not None and key not in jobs:
            continue
        try:
            with np.load(path, allow_pickle=False) as data:
                if "video_ids" not in data.files:
                    continue
                missing = [name for name in FRAME_KEYS if name not in data.files]
                if missing:
                    raise ValueError(f"{path}: a video job's predictions lack {', '.join(missing)}")
                arrays = {name: data[name] for name in FRAME_KEYS}
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read frame scores from {path}: {error}") from error
        lengths = {name: len(array) for name, array in arrays.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"{path}: per-frame arrays differ in length: {lengths}")
        if lengths["scores"]:
            found.append(FrameScores(*key, **arrays))
    return found


def _anomalous_spans(frame_indices: np.ndarray, labels: np.ndarray) -> list[tuple[float, float]]:
    """Runs of consecutive anomalous frames as (start − 0.5, end + 0.5) in frame-index units."""
    anomalous = np.sort(frame_indices[labels > 0])
    if anomalous.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(anomalous) > 1)
    starts = np.concatenate(([anomalous[0]], anomalous[breaks + 1]))
    ends = np.concatenate((anomalous[breaks], [anomalous[-1]]))
    return [(float(start) - 0.5, float(end) + 0.5) for start, end in zip(starts, ends, strict=True)]


def frame_score_plot(panels: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], title: str) -> str:
    """One panel per (name, frame indices, labels, scores) of one video, stacked on a shared frame axis:
    the score line and the ground-truth anomalous frames shaded. A base64 PNG."""
    import matplotlib.pyplot as plt

    figure, all_axes = plt.subplots(len(panels), 1, figsize=(7, 0.6 + 1.5 * len(panels)), sharex=True,
                                    squeeze=False)
    for axes, (name, frame_indices, labels, scores) in zip(all_axes[:, 0], panels, strict=True):
        order = np.argsort(frame_indices, kind="stable")
        for number, (start, end) in enumerate(_anomalous_spans(frame_indices, labels)):
            axes.axvspan(start, end, color="#d6452f", alpha=0.2, linewidth=0,
                         label="anomalous frames" if number == 0 else None)
        axes.plot(frame_indices[order], scores[order], color="#1f4e8c", linewidth=1, label="score")
        axes.set_ylabel("score", fontsize=8)
        axes.set_title(name, fontsize=9)
        axes.tick_params(labelsize=7)
    handles = {label: handle for axes in all_axes[:, 0] for handle, label in zip(*axes.get_legend_handles_labels(),
                                                                                 strict=True)}
    figure.legend(handles.values(), handles.keys(), fontsize=7, loc="upper right", frameon=False, ncols=2)
    all_axes[-1, 0].set_xlabel("frame index")
    figure.suptitle(title, fontsize=10, x=0.02, ha="left")
    return _png(figure)


def _slug(text: str) -> str:
    return slug(text).strip("-") or "video"


def frame_score_figures(frame_scores: list[FrameScores], labels: Labels | None = None) -> list[dict[str, str]]:
    """One figure per test video of each (dataset, category): a panel per model, from its lowest seed with
    frame scores. Figure dicts as the report's: "caption", "png", "stem"."""
    labels = labels or Labels()
    chosen: dict[tuple[str, str, str], FrameScores] = {}
    for job in sorted(frame_scores, key=lambda job: job.seed):
        chosen.setdefault((job.dataset, job.category, job.model), job)
    by_category: dict[tuple[str, str], list[FrameScores]] = {}
    for (dataset, category, _), job in chosen.items():
        by_category.setdefault((dataset, category), []).append(job)
    figures = []
    for dataset in dict.fromkeys(dataset for dataset, _ in by_category):
        categories = labels.order(dataset, [category for d, category in by_category if d == dataset])
        for category in categories:
            jobs = by_category[(dataset, category)]
            printed = labels.category(dataset, category)
            videos = sorted({str(video) for job in jobs for video in job.video_ids})
            for video in videos:
                panels = []
                for job in jobs:
                    mine = job.video_ids.astype(str) == video
                    if mine.any():
                        panels.append((f"{labels.model(job.model)} (seed {job.seed})", job.frame_indices[mine],
                                       job.labels[mine], job.scores[mine].astype(np.float64)))
                title = f"{dataset}: {printed}: video {video}"
                figures.append({"caption": f"{title}: frame scores (shaded: ground-truth anomalous frames)",
                                "stem": f"video-{_slug(dataset)}-{_slug(printed)}-{_slug(video)}-frame-scores",
                                "png": frame_score_plot(panels, title)})
    return figures


def video_context(frame: pd.DataFrame, labels: Labels, frame_scores: list[FrameScores] | None = None,
                  with_figures: bool = False, random_weights: bool = False) -> dict[str, Any]:
    """What the templates print of the video section: "tables", "grids", "figures" (empty without figures
    or frame scores), the notes; "present" is False without video rows (no section at all)."""
    video_rows = split_tracks(frame)[1]
    tables = video_tables(video_rows, labels)
    figures = frame_score_figures(frame_scores or [], labels) if with_figures else []
    summary = []
    for dataset in dict.fromkeys(video_rows["dataset"]):
        rows = video_rows[(video_rows["dataset"] == dataset) & (video_rows["status"] == "ok")]
        for category in labels.order(dataset, rows["category"]):
            of_category = rows[rows["category"] == category]
            summary.append({"dataset": dataset, "category": labels.category(dataset, category),
                            "videos": _count(of_category, VIDEOS_COLUMN), "frames": _count(of_category, "n_frames"),
                            "excluded": _count(of_category, EXCLUDED_COLUMN)})
    grids = video_grids(tables, random_weights)
    if summary:
        grids.append(paper.Grid(
            name="video-test-sets", caption="Video track: test videos and frames per sequence.",
            header=["Dataset", "Sequence", "Test videos", "Test frames", "Excluded from macro"],
            rows=[[paper.GridCell(item[key]) for key in ("dataset", "category", "videos", "frames", "excluded")]
                  for item in summary], align=["l", "l", "r", "r", "r"], notes=[EXCLUDED_NOTE]))
    return {"present": not video_rows.empty, "tables": tables, "grids": grids,
            "figures": figures, "summary": summary, "definitions": FRAME_DEFINITIONS,
            "no_test_note": NO_TEST_NOTE, "plot_note": PLOT_NOTE, "n_rows": len(video_rows)}


def _count(rows: pd.DataFrame, column: str) -> str:
    """A count the rows of one sequence share (their test set), "–" if unknown; several values joined."""
    if column not in rows:
        return "–"
    values = sorted({int(value) for value in rows[column].dropna() if not math.isnan(float(value))})
    return ", ".join(map(str, values)) or "–"
