"""End to end: snakemake on a tiny config, checked by content, twice for determinism."""

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
from workflow_helpers import TINY_CONFIG, make_workdir, run_snakemake

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "report"))  # the Chromium layout checks
from test_report_layout import CHROMIUM, assert_reads_cleanly


@pytest.mark.slow
def test_rows_one_per_category_and_model(finished_run):
    rows = pd.read_parquet(finished_run / "results" / "benchmark.parquet")
    assert sorted(zip(rows["category"], rows["model"])) == sorted(
        (category, model) for category in ("washer", "grass") for model in ("padim", "dfm")
    )
    assert (rows["status"] == "ok").all(), rows[["model", "category", "error_tail"]]
    for metric in ("image_AUROC", "image_AP", "pixel_AUROC", "pixel_AP", "pixel_AUPRO", "pixel_PRO"):
        assert rows[metric].between(0, 1).all(), rows[metric]
    # Two different models do not give identical numbers everywhere.
    by_model = rows.pivot_table(index="category", columns="model", values="pixel_AUROC")
    assert not (by_model["padim"] == by_model["dfm"]).all()
    assert (rows["weights"] == "random").all()
    assert (rows["peak_rss_mb"] > 0).all() and (rows["n_parameters"] > 0).all()
    assert rows["config_hash"].str.len().eq(16).all()
    # The timing job's columns reach the row (the torch model alone, synthetic inputs).
    padim = rows[rows["model"] == "padim"]
    assert (padim["gflops_per_image"] > 0).all() and (padim["throughput_b32"] > 0).all(), padim["timing_error"]


@pytest.mark.slow
def test_report_shows_the_computed_numbers(finished_run):
    rows = pd.read_parquet(finished_run / "results" / "benchmark.parquet")
    html = (finished_run / "results" / "report" / "index.html").read_text()
    tex = (finished_run / "results" / "report" / "tables.tex").read_text()
    padim_washer = rows[(rows["model"] == "padim") & (rows["category"] == "washer")]["image_AUROC"].item()
    assert f"{100 * padim_washer:.2f}" in html
    assert f"{100 * padim_washer:.2f}" in tex
    assert 'id="random-weights"' in html
    assert "tiny {workflow} test &amp; 100% _x_" in html and r"tiny \{workflow\} test \& 100\% \_x\_" in tex
    assert "\\toprule" in tex and "\\bottomrule" in tex
    assert "data:image/png;base64," in html
    # Each cell's interval on hover, and each table's paired tests against its column's best.
    assert 'title="95% CI [' in html and "(logit bootstrap over test images, 2000 resamples)" in html
    # The marking rule lives in the legend (its "Tests" paragraph), said once for every table.
    assert "not significantly worse than the column&#39;s best on the same test images" in html
    assert "corrected together by Benjamini-Hochberg" in html and "α = 0.05" in html
    assert '<h2 id="score-distributions">Score distributions</h2>' in html and '<table class="hardest">' in html
    # Every job's benchmark TSV (wall time, RSS, I/O) beside its log, summarised in the report.
    assert (finished_run / "results" / "benchmarks" / "train" / "one_class" / "embedded" / "washer" / "padim" / "0.tsv").exists()
    assert '<h2 id="job-resources">Job resources</h2>' in html
    assert "<tr><td>train</td><td>4</td>" in html and "<tr><td>evaluate</td><td>4</td>" in html
    # Paper-ready output: each table as .tex/.csv/.md, the figures, paper.tex (and its PDF with pdflatex).
    report = finished_run / "results" / "report"
    assert "<tr><td>PaDiM</td>" in html and "<tr><td>DFM</td>" in html  # display names, not config names
    for suffix in ("tex", "csv", "md"):
        assert (report / "tables" / f"embedded-image-AUROC.{suffix}").exists(), sorted((report / "tables").iterdir())
    assert f"{100 * padim_washer:.2f}" in (report / "tables" / "embedded-image-AUROC.csv").read_text()
    paper = (report / "paper.tex").read_text()
    assert all(f"\\input{{tables/{path.name}}}" in paper for path in (report / "tables").glob("*.tex"))
    assert any((report / "figures").glob("*.png"))
    assert (report / "figures" / "embedded-Washer-score-distributions.png").exists()
    assert (report / "tables" / "hardest-images-embedded.csv").exists()
    if shutil.which("pdflatex"):
        assert (report / "paper.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.slow
def child_starts(workdir):
    """How the training, timing and evaluation jobs' children were started (lines run_child logs)."""
    return [line.split(": ", 1)[1] for log in (workdir / "results" / "logs").rglob("*.log")
            for line in log.read_text(errors="replace").splitlines() if line.startswith("iadbench.run.")]


def test_same_config_same_metrics(repo_root, finished_run, tmp_path, monkeypatch):
    """The rerun starts its children with python -m (the fork server off): either way, the same metrics."""
    config_path = make_workdir(repo_root, tmp_path, TINY_CONFIG)
    monkeypatch.setenv("IADBENCH_FORK_SERVER", "0")
    run_snakemake(tmp_path, config_path, targets=("results/benchmark.parquet",))
    forked, started = child_starts(finished_run), child_starts(tmp_path)
    assert forked and all(how.startswith("forked child") for how in forked), forked
    assert started and all(how.startswith("fork server off") for how in started), started
    metrics = ["image_AUROC", "image_AP", "image_F1_max", "pixel_AUROC", "pixel_AP", "pixel_AUPRO"]
    first = pd.read_parquet(finished_run / "results" / "benchmark.parquet").set_index(["category", "model"])
    second = pd.read_parquet(tmp_path / "results" / "benchmark.parquet").set_index(["category", "model"])
    pd.testing.assert_frame_equal(first[metrics].sort_index(), second[metrics].sort_index())


def test_bad_config_stops_before_any_job(repo_root, tmp_path):
    config = {**TINY_CONFIG, "models": {"padimm": {}}}
    config_path = make_workdir(repo_root, tmp_path, config)
    result = run_snakemake(tmp_path, config_path, "-n", check=False)
    assert result.returncode != 0
    assert "models.padimm" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(("change", "named"), [
    ({"models": {"padim": {"init_args": {"backbon": "resnet18"}}}}, "models.padim.init_args.backbon"),
    ({"models": {"a&b": {}}}, "models.a&b"),
    ({"image_size": 64.0}, "image_size"),
])
def test_config_errors_stop_the_plan(repo_root, tmp_path, change, named):
    config_path = make_workdir(repo_root, tmp_path, {**TINY_CONFIG, **change})
    result = run_snakemake(tmp_path, config_path, "-n", check=False)
    assert result.returncode != 0 and named in result.stdout + result.stderr


def test_unknown_key_is_named(repo_root, tmp_path):
    config = {**TINY_CONFIG, "image_sise": 64}
    config_path = make_workdir(repo_root, tmp_path, config)
    result = run_snakemake(tmp_path, config_path, "-n", check=False)
    assert result.returncode != 0 and "image_sise" in result.stdout + result.stderr


@pytest.mark.slow
def test_report_target_rebuilds_from_the_table_alone(finished_run):
    (finished_run / "results" / "report" / "index.html").unlink()
    result = run_snakemake(finished_run, finished_run / "config" / "test.yaml", targets=("report",))
    log = result.stdout + result.stderr
    assert "rule report" in log and "rule train" not in log and "rule evaluate" not in log
    assert "Anomaly maps" in (finished_run / "results" / "report" / "index.html").read_text()


@pytest.mark.slow
def test_snakemake_report_bundles_the_report(finished_run):
    """`snakemake --report` collects the outputs wrapped in report() (our HTML and LaTeX)."""
    bundle = finished_run / "snakemake_report.zip"
    run_snakemake(finished_run, finished_run / "config" / "test.yaml", "--report", str(bundle))
    import zipfile

    names = {name.rsplit("/", 1)[-1] for name in zipfile.ZipFile(bundle).namelist()}
    assert {"report.html", "index.html", "tables.tex"} <= names, names


@pytest.mark.slow
@pytest.mark.parametrize("name", ["literature.yaml"])  # paper.yaml: test_real_datasets.py
def test_paper_configs_plan_675_training_jobs(repo_root, tmp_path, name):
    """The study's grid, 3 seeds: `snakemake -n --configfile config/<name>` plans 675 training jobs."""
    import re
    import shutil

    from workflow_helpers import WORKFLOW_FILES

    for entry in WORKFLOW_FILES:
        source = repo_root / entry
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / entry)
    result = run_snakemake(tmp_path, tmp_path / "config" / name, "-n", timeout=600)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.MULTILINE))
    assert counts["train"] == "675" and counts["evaluate"] == "675", result.stdout[-2000:]
    assert not (tmp_path / "results").exists()  # a dry run writes nothing


def test_each_model_is_timed_once_whatever_the_seeds(repo_root, tmp_path):
    """Timing: one job per dataset x category x model, on the first seed's checkpoint, not one per seed."""
    import re

    config_path = make_workdir(repo_root, tmp_path, {**TINY_CONFIG, "seeds": [3, 1]})
    plan = run_snakemake(tmp_path, config_path, "-n").stdout
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", plan, flags=re.MULTILINE))
    assert counts["train"] == "8" and counts["evaluate"] == "8" and counts["timing"] == "4", plan[-2000:]
    timed = re.findall(r"rule timing:\n\s+input: results/train/one_class/embedded/(\w+)/(\w+)/(\d+)/model\.ckpt", plan)
    assert sorted(timed) == sorted((category, model, "3") for category in ("washer", "grass")
                                   for model in ("padim", "dfm")), plan


def _tree(root):
    """Every file and folder under ``root``: size and modification time (nanoseconds). Snakemake's own
    records are left out: its I/O cache (``.snakemake/iocache/``, stored by every dry run for
    ``--trust-io-cache``) and its log of each invocation (``.snakemake/log/``, written by ``--lint``)."""
    return {str(path.relative_to(root)): (path.stat().st_size if path.is_file() else -1, path.stat().st_mtime_ns)
            for path in sorted(root.rglob("*")) if path.relative_to(root).parts[0] not in {"iocache", "log"}}


@pytest.mark.slow
def test_plan_lint_and_summary_change_nothing(finished_run):
    """`-n`, `--lint` and `--summary` leave results/ and .snakemake/ as they were, even with a stale lock
    of a killed run there (only a run that executes jobs clears it)."""
    stale = finished_run / ".snakemake" / "locks" / "0.input.lock"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("a killed run's lock")
    try:
        before = {name: _tree(finished_run / name) for name in ("results", ".snakemake")}
        config_path = finished_run / "config" / "test.yaml"
        for extra in (("-n",), ("--lint",), ("--summary",)):
            run_snakemake(finished_run, config_path, *extra, check=extra != ("--lint",))
            after = {name: _tree(finished_run / name) for name in ("results", ".snakemake")}
            for name, tree in before.items():
                changed = {path for path in tree.keys() | after[name].keys() if tree.get(path) != after[name].get(path)}
                assert not changed, f"snakemake {' '.join(extra)} changed {name}/: {sorted(changed)[:10]}"
    finally:
        stale.unlink(missing_ok=True)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")
def test_the_runs_report_reads_cleanly_in_chromium(finished_run, tmp_path):
    """The report a real run writes (figures, gallery, provenance), laid out as the synthetic one is."""
    assert_reads_cleanly((finished_run / "results" / "report" / "index.html").read_text(), tmp_path)
