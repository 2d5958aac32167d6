"""The continual setting end to end: one run of config/continual.yaml (embedded data, PaDiM and PatchCore,
naive / accumulate / joint, 3 steps), shared by the slow tests; plus planning checks."""

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import make_workdir, run_snakemake

TASK_STEPS = {"brick": 1, "grass": 2, "gravel": 3, "washer": 3}
METRICS = ["image_AUROC", "image_AP", "image_F1_max", "pixel_AUROC", "pixel_AP", "pixel_F1_max", "pixel_PRO", "pixel_AUPRO",
           "pixel_AUPRO_30", "pixel_AUPRO_05"]


def continual_config(repo_root) -> dict:
    return yaml.safe_load((repo_root / "config" / "continual.yaml").read_text())


@pytest.fixture(scope="session")
def continual_run(repo_root, tmp_path_factory):
    """The continual outputs, and the main benchmark's PatchCore row of step 1's category (to compare with;
    PaDiM's step 1 is compared with its standalone job in tests/unit/continual/test_continual.py)."""
    workdir = tmp_path_factory.mktemp("continual")
    config_path = make_workdir(repo_root, workdir, continual_config(repo_root))
    run_snakemake(workdir, config_path, targets=("continual", "results/evaluate/one_class/embedded/brick/patchcore/0/row.parquet"))
    return workdir


def recomputed_fm(run: pd.DataFrame, metric: str) -> float:
    """Chaudhry et al.'s FM, written out with loops: mean over j < T of max_{j <= l < T} a_l,j - a_T,j."""
    value = {(int(step), int(task)): float(v) for step, task, v in zip(run["step"], run["task"], run[metric])}
    last = int(run["step"].max())
    return float(np.mean([max(value[(step, task)] for step in range(task, last)) - value[(last, task)]
                          for task in range(1, last)]))


@pytest.mark.slow
def test_outputs_one_row_per_step_and_task(continual_run):
    results = continual_run / "results"
    matrix = pd.read_parquet(results / "continual" / "matrix.parquet")
    categories = pd.read_parquet(results / "continual" / "category_matrix.parquet")
    assert len(matrix) == 5 * (1 + 2 + 3) and len(categories) == 5 * (1 + 2 + 4)
    assert (matrix["status"] == "ok").all(), matrix[["model", "strategy", "step", "error_tail"]]
    assert set(zip(matrix["model"], matrix["strategy"])) == {
        ("padim", "naive"), ("padim", "accumulate"), ("patchcore", "naive"), ("patchcore", "accumulate"),
        ("patchcore", "joint")}
    assert (categories["task"] == categories["category"].map({"brick": 1, "grass": 2, "gravel": 3, "washer": 3})).all()
    assert all(matrix[metric].between(0, 1).all() for metric in METRICS)
    # A task of several categories: the mean over them.
    last = categories[(categories["step"] == 3) & (categories["task"] == 3)]
    expected = last.groupby(["model", "strategy"])["pixel_AUROC"].mean()
    got = matrix[(matrix["step"] == 3) & (matrix["task"] == 3)].set_index(["model", "strategy"])["pixel_AUROC"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    assert (matrix.loc[matrix["task"] == 3, "categories"] == "gravel+washer").all()
    for path in ("train/embedded3/patchcore/0/naive/step2.tsv", "evaluate/embedded3/patchcore/0/naive/step2/brick.tsv"):
        assert (results / "benchmarks" / f"continual_{path}").exists()
    assert (results / "logs" / "continual_train" / "embedded3" / "patchcore" / "0" / "naive" / "step3.log").exists()


@pytest.mark.slow
def test_summary_fm_is_the_fm_of_the_matrix(continual_run):
    matrix = pd.read_parquet(continual_run / "results" / "continual" / "matrix.parquet")
    summary = pd.read_parquet(continual_run / "results" / "continual" / "summary.parquet")
    assert set(summary["metric"]) == set(METRICS)
    assert (summary["n_tasks"] == 3).all() and (summary["note"] == "").all()
    for row in summary.itertuples():
        run = matrix[(matrix["model"] == row.model) & (matrix["strategy"] == row.strategy) & (matrix["seed"] == row.seed)]
        assert row.FM == pytest.approx(recomputed_fm(run, row.metric), abs=1e-12)
        final = run[run["step"] == 3]
        assert row.ACC == pytest.approx(final[row.metric].mean(), abs=1e-12)


@pytest.mark.slow
def test_memory_bank_forgets_under_naive_not_under_accumulate(continual_run):
    summary = pd.read_parquet(continual_run / "results" / "continual" / "summary.parquet")
    patchcore = summary[summary["model"] == "patchcore"].set_index(["strategy", "metric"])
    for metric in ("image_AUROC", "pixel_AUROC"):
        assert patchcore.loc[("naive", metric), "FM"] > 0.02, patchcore["FM"]
        assert abs(patchcore.loc[("accumulate", metric), "FM"]) < 0.005, patchcore["FM"]
    # The accumulated bank holds every step's coreset; naive's only the last task's.
    infos = {strategy: yaml.safe_load((continual_run / "results" / "continual" / "train" / "embedded3" / "patchcore"
                                       / "0" / strategy / "step3" / "train_info.json").read_text())
             for strategy in ("naive", "accumulate")}
    assert infos["accumulate"]["bank_size"] > infos["naive"]["bank_size"] > 0
    assert infos["accumulate"]["bank_images"] == 32 and infos["naive"]["bank_images"] == 16


@pytest.mark.slow
def test_step_one_equals_the_standalone_job(continual_run):
    categories = pd.read_parquet(continual_run / "results" / "continual" / "category_matrix.parquet")
    standalone = pd.read_parquet(continual_run / "results" / "evaluate" / "one_class" / "embedded" / "brick" / "patchcore" / "0"
                                 / "row.parquet").iloc[0]
    step_one = categories[(categories["model"] == "patchcore") & (categories["step"] == 1)]
    assert sorted(step_one["strategy"]) == ["accumulate", "joint", "naive"]
    for metric in [*METRICS, "image_AUROC_ci_low", "pixel_AUPRO_ci_high"]:
        assert (step_one[metric] == standalone[metric]).all(), metric
    assert (step_one["n_test"] == standalone["n_test"]).all() and (step_one["n_train"] == standalone["n_train"]).all()


@pytest.mark.slow
def test_report_and_a_second_run_that_does_nothing(continual_run):
    report = continual_run / "results" / "report"
    html, tex = (report / "continual.html").read_text(), (report / "continual.tex").read_text()
    assert html.count("data:image/png;base64,") == 2 * 2 + 2  # per metric: a heatmap per model, one curve
    assert 'id="random-weights"' in html and "<td>PatchCore</td><td>accumulate</td>" in html
    assert "\\toprule" in tex and "gravel+washer" in tex
    result = run_snakemake(continual_run, continual_run / "config" / "test.yaml", "-n", targets=("continual",))
    assert "Nothing to be done" in result.stdout + result.stderr


def test_the_default_config_plans_no_continual_job(repo_root, tmp_path):
    make_workdir(repo_root, tmp_path, {})
    result = run_snakemake(tmp_path, tmp_path / "config" / "config.yaml", "-n")
    output = result.stdout + result.stderr
    assert "rule train:" in output and "continual" not in output


def test_a_bad_sequence_stops_before_any_job(repo_root, tmp_path):
    config = continual_config(repo_root)
    config["continual"]["sequences"]["embedded3"]["tasks"] = [["brick"], ["grass", "brick"]]
    config_path = make_workdir(repo_root, tmp_path, config)
    result = run_snakemake(tmp_path, config_path, "-n", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "config key 'continual.sequences.embedded3'" in output and "'brick' appears twice" in output
    assert not (tmp_path / "results").exists()
