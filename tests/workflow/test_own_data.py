"""A user's own data end to end: an MVTec-layout folder of two invented categories with three defect types
(one without masks; one category without any mask) and a multi-defect `folder` dataset, in ONE tiny run."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import TINY_CONFIG, make_workdir, run_snakemake

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "datasets"))
from archives import write_tree
from own_data import folder_spec, folder_tree, mvtec_layout_tree

from iadbench.run.evaluate import compute_metrics
from iadbench.run.predictions import load_predictions

pytestmark = pytest.mark.slow
JOBS = (("own", "gasket"), ("own", "widget"), ("mine", "custom"))


@pytest.fixture(scope="session")
def own_data_run(repo_root, tmp_path_factory):
    data = tmp_path_factory.mktemp("own_data")
    layout = write_tree(data / "layout", mvtec_layout_tree())
    shutil.rmtree(layout / "gasket" / "ground_truth")  # a category without any mask
    mine = folder_spec(write_tree(data / "folder", folder_tree()))
    config = {**TINY_CONFIG, "models": {"padim": TINY_CONFIG["models"]["padim"]},
              "timing": {**TINY_CONFIG["timing"], "enabled": False},  # no test here reads a timing
              "datasets": {"own": {"type": "mvtec_layout", "path": str(layout), "categories": "all"}, "mine": mine}}
    workdir = tmp_path_factory.mktemp("own_data_run")
    run_snakemake(workdir, make_workdir(repo_root, workdir, config))
    return workdir, layout, Path(mine["path"])


def job_dir(workdir, dataset, category):
    return workdir / "results" / "evaluate" / "one_class" / dataset / category / "padim" / "0"


def test_every_test_image_of_both_categories_and_the_folder_is_scored(own_data_run):
    workdir, layout, folder = own_data_run
    rows = pd.read_parquet(workdir / "results" / "benchmark.parquet")
    assert sorted(zip(rows.dataset, rows.category, strict=True)) == sorted(JOBS) and rows.status.eq("ok").all()
    for dataset, category in JOBS:
        scores = pd.read_parquet(job_dir(workdir, dataset, category) / "scores.parquet")
        if dataset == "own":
            on_disk = sorted(f"{path.parent.name}/{path.name}" for path in (layout / category / "test").glob("*/*.png"))
            scored = sorted(f"{Path(path).parent.name}/{Path(path).name}" for path in scores.image_path)
            assert scored == on_disk and len(on_disk) == 3 + 3 * 2
            assert (scores.defect_type == [Path(path).parent.name for path in scores.image_path]).all()
        else:
            on_disk = sorted(path.name for path in [*(folder / "normal_test").glob("*.png"),
                                                     *(folder / "defects").glob("*/*.png")])
            assert sorted(Path(path).name for path in scores.image_path) == on_disk
            assert sorted(scores.defect_type.value_counts().items()) == [("crack", 2), ("good", 3), ("scratch", 2)]
        assert scores.image_score.notna().all()
        assert list(scores.label.astype(int)) == [int(defect != "good") for defect in scores.defect_type]


def test_pixel_metrics_cover_the_images_with_masks(own_data_run, monkeypatch):
    workdir, _, _ = own_data_run
    monkeypatch.chdir(workdir)  # the predictions name the prepared images relative to it
    rows = pd.read_parquet(workdir / "results" / "benchmark.parquet").set_index(["dataset", "category"])
    # widget: 2 stain images without masks; gasket: no mask at all (6 defect images); mine: 2 crack images.
    assert {job: int(rows.loc[job, "n_test_without_mask"]) for job in JOBS} == {
        ("own", "gasket"): 6, ("own", "widget"): 2, ("mine", "custom"): 2}
    assert rows.n_skipped_files.eq(1).all()  # notes.txt / readme.txt
    assert np.isnan(rows.loc[("own", "gasket"), "pixel_AUROC"]) and np.isfinite(rows.loc[("own", "gasket"), "image_AUROC"])
    for job in (("own", "widget"), ("mine", "custom")):
        # The row's pixel metrics are those of the predictions with the unmasked images left out.
        predictions = load_predictions(workdir / "results" / "train" / "one_class" / job[0] / job[1] / "padim" / "0" / "predictions.npz")
        keep = (predictions["labels"] == 0) | (predictions["mask_paths"] != "")
        assert keep.sum() == len(keep) - 2
        kept = {key: value[keep] for key, value in predictions.items() if np.ndim(value) and len(value) == len(keep)}
        expected = compute_metrics(kept, "native", [0.3, 0.05], n_resamples=10)
        for metric in ("pixel_AUROC", "pixel_AP", "pixel_AUPRO"):
            assert rows.loc[job, metric] == pytest.approx(expected[metric], abs=1e-12)


def test_report_shows_a_dash_for_the_category_without_masks(own_data_run):
    workdir, _, _ = own_data_run
    # More than 16 tables: each dataset's tables are on its own page (iadbench.report.pages).
    html = (workdir / "results" / "report" / "dataset-own.html").read_text()
    section = html.split('id="own-pixel-AUROC"')[1].split("</table>")[0]
    assert "<th>Gasket</th><th>Widget</th>" in section and "<tr><td>PaDiM</td><td>–</td><td" in section
    latex = (workdir / "results" / "report" / "tables.tex").read_text()
    table = latex.split(r"\label{tab:own-pixel-AUROC}")[1].split(r"\end{table}")[0]
    assert "PaDiM & -- & " in table  # LaTeX's en dash
    mine = (workdir / "results" / "report" / "dataset-mine.html").read_text()
    assert 'id="mine-pixel-AUROC"' in mine  # the multi-defect folder: one category with pixel metrics
