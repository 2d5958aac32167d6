"""The report of `config/video.yaml` (the shared `finished_video_run`): its video section has the tables and one
frame-score plot per test video, and no image table."""

import csv

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def test_report_video_section(finished_video_run):
    report = finished_video_run / "results" / "report"
    rows = pd.read_parquet(finished_video_run / "results" / "benchmark.parquet")
    html = (report / "index.html").read_text()
    assert 'id="video"' in html and 'class="metric"' not in html and 'id="ranks"' not in html
    for metric in ("frame_AUROC", "frame_AUROC_macro"):
        assert f'class="video-metric" data-metric="{metric}" data-dataset="embedded_video"' in html
        with open(report / "tables" / f"video-embedded-video-{metric.replace('_', '-')}.csv") as handle:
            table = list(csv.reader(handle))
        assert table[0] == ["Method", "Walkway", "Mean"]
        printed = {line[0]: line[1] for line in table[1:]}
        assert len(printed) == len(rows) == 2
        for value in rows[metric]:  # one seed: each cell is its row's value in percent
            assert f"{100 * value:.2f}" in printed.values()
    test_dir = finished_video_run / "resources" / "datasets" / "embedded_video" / "walkway" / "Test"
    videos = sorted(video.name for video in test_dir.iterdir() if video.is_dir() and not video.name.endswith("_gt"))
    assert len(videos) == 2
    plots = sorted(path.name for path in (report / "figures").glob("video-*-frame-scores.png"))
    assert plots == [f"video-embedded-video-Walkway-{video}-frame-scores.png" for video in videos]
    assert html.count('class="figures video-frame-scores"') == 1
    assert all(f"video {video}: frame scores" in html for video in videos)
    assert r"\input{tables/video-embedded-video-frame-AUROC-macro.tex}" in (report / "paper.tex").read_text()
