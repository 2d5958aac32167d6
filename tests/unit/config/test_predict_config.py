import copy
import math

import pandas as pd
import pytest
import yaml

from iadbench.config.base import ConfigError, Job
from iadbench.config.load import validate_config
from iadbench.config.predict import best_job, predict_pages, rule_inputs
from iadbench.results.rows import make_row

BASE = {"datasets": {"embedded": {"type": "embedded", "categories": ["washer", "grass"]}},
        "models": {"padim": {}, "dfm": {}}, "seeds": [0, 1]}
JOB = {"dataset": "embedded", "category": "washer", "model": "padim", "seed": 0}


def checked(predict, repo_root):
    return validate_config({**copy.deepcopy(BASE), "predict": predict},
                           repo_root / "workflow" / "schemas" / "config.schema.yaml")


def test_defaults_and_sources(repo_root):
    config = checked({"a": {"images": "x/*.png", "job": JOB}, "b": {"images": ["x", "y"], "best": {
        "dataset": "embedded", "category": "grass"}}, "c": {"images": "x", "hub": "owner/name", "revision": "v1"}},
        repo_root)
    assert config["predict"]["a"]["threshold"] == {"method": "f1", "max_fpr": 0.01}
    assert config["predict"]["b"]["best"]["metric"] == "image_AUROC"
    inputs = rule_inputs(config, "b")
    assert inputs["benchmark"] == ["results/benchmark.parquet"] and len(inputs["checkpoints"]) == 4
    assert rule_inputs(config, "c")["checkpoints"] == []
    assert rule_inputs(config, "a")["checkpoints"] == ["results/train/one_class/embedded/washer/padim/0/model.ckpt"]


def test_prepared_dataset_images_depend_on_the_category_folder(repo_root):
    config = checked({"a": {"images": "resources/datasets/embedded/washer/test", "job": JOB}}, repo_root)
    assert rule_inputs(config, "a")["images"] == ["resources/datasets/embedded/washer"]


@pytest.mark.parametrize(("predict", "message"), [
    ({"a": {"images": "x"}}, r"'predict.a': give exactly one of job, best, hub \(got none\)"),
    ({"a": {"images": "x", "job": JOB, "hub": "o/n"}}, r"'predict.a': give exactly one.*got job, hub"),
    ({"a": {"images": "x", "job": {**JOB, "category": "washr"}}}, r"'predict.a.job.category': 'washr'"),
    ({"a": {"images": "x", "job": {**JOB, "model": "fastflow"}}}, r"'predict.a.job.model': 'fastflow'"),
    ({"a": {"images": "x", "job": {**JOB, "seed": 7}}}, r"'predict.a.job.seed': 7 is not one of `seeds`"),
    ({"a": {"images": "x", "best": {"dataset": "mvtec", "category": "washer"}}}, r"'predict.a.best.dataset'"),
    ({"a": {"images": "x", "best": {"dataset": "embedded", "category": "washer", "metric": "AUROC"}}},
     r"'predict.a.best.metric'"),
    ({"a": {"images": "x", "hub": "not a repo"}}, r"'predict.a.hub'"),
    ({"a": {"images": "x", "job": JOB, "revision": "v1"}}, r"'predict.a.revision': only a `hub`"),
    ({"a": {"images": "../x", "job": JOB}}, r"'predict.a.images': '../x' must be relative"),
    ({"a": {"images": "x", "job": JOB, "threshold": {"method": "fpr", "max_fpr": 1}}}, r"predict.a.threshold.max_fpr"),
    ({"a": {"images": "x", "job": JOB, "treshold": {}}}, r"unknown key\(s\) predict.a.treshold"),
    ({"a b": {"images": "x", "job": JOB}}, r"'predict.a b': names may only"),
])
def test_bad_sets_name_the_key(predict, message, repo_root):
    with pytest.raises(ConfigError, match=message):
        checked(predict, repo_root)


def test_default_config_predict_set_is_valid(repo_root):
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    config = validate_config(config, repo_root / "workflow" / "schemas" / "config.schema.yaml")
    assert config["predict"], "README's `snakemake predict` needs a default set"


def _rows(values):
    return pd.concat([make_row({"dataset": "embedded", "category": category, "model": model, "seed": seed,
                                "status": status, "image_AUROC": auroc, "weights": "random",
                                "finished_at": pd.Timestamp("2026-01-01", tz="UTC")}) for model, category, seed, status, auroc
                      in values], ignore_index=True)


def test_best_job_by_mean_over_seeds_then_best_seed(tmp_path):
    path = tmp_path / "benchmark.parquet"
    _rows([("padim", "washer", 0, "ok", 0.99), ("padim", "washer", 1, "ok", 0.61),   # mean 0.80, one lucky seed
           ("dfm", "washer", 0, "ok", 0.85), ("dfm", "washer", 1, "ok", 0.90),       # mean 0.875
           ("fastflow", "washer", 0, "failed", math.nan), ("dfm", "grass", 0, "ok", 1.0)]).to_parquet(path)
    assert best_job(path, "embedded", "washer", "image_AUROC") == Job("embedded", "washer", "dfm", 1)
    assert best_job(path, "embedded", "washer", "image_AUROC", ["padim"]) == Job("embedded", "washer", "padim", 0)
    with pytest.raises(ConfigError, match="no successful job"):
        best_job(path, "embedded", "washer", "image_AUROC", ["fastflow"])
    with pytest.raises(ConfigError, match="no column 'pixel_AUPRO_x'"):
        best_job(path, "embedded", "washer", "pixel_AUPRO_x")


def test_report_links_every_configured_page(repo_root):
    from iadbench.report.render import render_html

    config = checked({"mine": {"images": "x", "job": JOB}, "hubset": {"images": "y", "hub": "o/n"}}, repo_root)
    pages = predict_pages(config)
    assert [page["href"] for page in pages] == ["../predict/mine/index.html", "../predict/hubset/index.html"]
    html = render_html(_rows([("padim", "washer", 0, "ok", 0.9)]), repo_root / "src" / "iadbench" / "report" / "templates", "T",
                       config=config, with_figures=False)
    assert 'href="../predict/mine/index.html"' in html and "job embedded/washer/padim/0" in html
    assert "Hub model o/n" in html and "snakemake predict" in html
    assert 'id="predict"' not in render_html(_rows([("padim", "washer", 0, "ok", 0.9)]),
                                             repo_root / "src" / "iadbench" / "report" / "templates", "T", with_figures=False)
