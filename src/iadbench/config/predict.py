"""The ``predict:`` section: named target sets of images and the model that scores each.

A set names its images (``images``: a folder, a glob, or a list of them, relative to the working directory)
and exactly one model source:

* ``job: {dataset, category, model, seed}``: that benchmark job's checkpoint;
* ``best: {dataset, category, metric}``: the best job of that category in ``results/benchmark.parquet``
  (:func:`best_job`);
* ``hub: owner/name`` (and optionally ``revision``): a model folder published on the Hugging Face Hub.

``threshold: {method: f1 | fpr, max_fpr}`` chooses the decision threshold (:mod:`iadbench.serve.predict`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.config.base import ConfigError, Job, config_hash, train_config
from iadbench.config.settings import DEFAULT_SETTING
from iadbench.datasets import dataset_categories

SOURCES = ("job", "best", "hub")


def predict_sets(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(config.get("predict") or {})


def check_predict(config: dict[str, Any]) -> None:
    """Every predict set that cannot run, as a ConfigError naming its key, before any job."""
    for name, entry in predict_sets(config).items():
        key = f"predict.{name}"
        given = [source for source in SOURCES if source in entry]
        if len(given) != 1:
            raise ConfigError(f"config key '{key}': give exactly one of {', '.join(SOURCES)} (got "
                              f"{', '.join(given) or 'none'})")
        if "revision" in entry and "hub" not in entry:
            raise ConfigError(f"config key '{key}.revision': only a `hub` model has a revision")
        images = entry["images"] if isinstance(entry["images"], list) else [entry["images"]]
        for pattern in images:
            if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
                raise ConfigError(f"config key '{key}.images': {pattern!r} must be relative to the working directory, "
                                  "without '..'")
        source = given[0]
        if source == "hub":
            continue
        spec = entry[source]
        if spec["dataset"] not in config["datasets"]:
            raise ConfigError(f"config key '{key}.{source}.dataset': {spec['dataset']!r} is not a key of `datasets` "
                              f"({', '.join(config['datasets'])})")
        categories = dataset_categories(config["datasets"][spec["dataset"]])
        if spec["category"] not in categories:
            raise ConfigError(f"config key '{key}.{source}.category': {spec['category']!r} is not a category of dataset "
                              f"{spec['dataset']!r} ({', '.join(categories)})")
        if source == "job":
            if spec["model"] not in config["models"]:
                raise ConfigError(f"config key '{key}.job.model': {spec['model']!r} is not a key of `models` "
                                  f"({', '.join(config['models'])})")
            if spec["seed"] not in config["seeds"]:
                raise ConfigError(f"config key '{key}.job.seed': {spec['seed']} is not one of `seeds` "
                                  f"({', '.join(map(str, config['seeds']))})")


def candidate_jobs(config: dict[str, Any], name: str) -> list[Job]:
    """The benchmark jobs a set may use: its job, or every model x seed of its ``best`` category; [] (hub)."""
    entry = config["predict"][name]
    if "job" in entry:
        spec = entry["job"]
        return [Job(spec["dataset"], spec["category"], spec["model"], int(spec["seed"]))]
    if "best" in entry:
        spec = entry["best"]
        return [Job(spec["dataset"], spec["category"], model, seed) for model in config["models"]
                for seed in config["seeds"]]
    return []


def best_job(benchmark_path: str | Path, dataset: str, category: str, metric: str,
             models: list[str] | None = None) -> Job:
    """The best job of a category by ``metric`` (higher is better, as for every image_*/pixel_* metric):
    among the ``ok`` rows with a value (of ``models`` when given), the model with the highest mean over
    its seeds, then that model's seed with the highest value (ties: the model or seed first in sort order).

    The seed is the best of the chosen model's seeds: the one the user would deploy; the model choice
    itself rests on the mean, not on a lucky seed."""
    import pandas as pd

    frame = pd.read_parquet(benchmark_path)
    where = f"best {metric} of {dataset}/{category} in {benchmark_path}"
    if metric not in frame.columns:
        raise ConfigError(f"{where}: no column {metric!r}")
    rows = frame[(frame["dataset"] == dataset) & (frame["category"] == category) & (frame["status"] == "ok")
                 & frame[metric].notna()]
    if models is not None:
        rows = rows[rows["model"].isin(models)]
    if "setting" in rows:  # a deployed model is one category's: one-class jobs only (iadbench.config.settings)
        rows = rows[rows["setting"].fillna(DEFAULT_SETTING) == DEFAULT_SETTING]
    if rows.empty:
        raise ConfigError(f"{where}: no successful job with a {metric} value")
    means = rows.groupby("model")[metric].mean().sort_index(kind="stable")
    model = str(means.idxmax())
    seeds = rows[rows["model"] == model].sort_values("seed", kind="stable")
    seed = int(seeds.loc[seeds[metric].idxmax(), "seed"])
    return Job(dataset, category, model, seed)


def image_inputs(config: dict[str, Any], images: str | list[str]) -> list[str]:
    """What a set's images depend on, for the workflow: a pattern inside a prepared category
    (``resources/datasets/<dataset>/<category>/...``) depends on that category's folder (made by the data
    rules); any other pattern on the files it matches now (none yet: nothing, the job lists them when it runs)."""
    import glob

    found: list[str] = []
    for pattern in [images] if isinstance(images, str) else images:
        parts = Path(pattern).parts
        if len(parts) >= 4 and parts[:2] == ("resources", "datasets") and parts[2] in config["datasets"]:
            found.append(str(Path(*parts[:4])))
        elif Path(pattern).is_dir():
            found += [str(path) for path in sorted(Path(pattern).rglob("*")) if path.is_file()]
        else:
            found += sorted(path for path in glob.glob(pattern, recursive=True) if Path(path).is_file())
    return list(dict.fromkeys(path for path in found if not Path(path).name.startswith(".")))


def rule_inputs(config: dict[str, Any], name: str) -> dict[str, list[str]]:
    """The inputs of the predict rule for set ``name``: its candidate jobs' training outputs, the results
    table (``best``) and its images (:func:`image_inputs`)."""
    entry = config["predict"][name]
    job_dirs = [f"results/train/{job.path}" for job in candidate_jobs(config, name)]
    inputs = {"checkpoints": [f"{folder}/model.ckpt" for folder in job_dirs],
              "infos": [f"{folder}/train_info.json" for folder in job_dirs],
              "test_predictions": [f"{folder}/predictions.npz" for folder in job_dirs],
              "images": image_inputs(config, entry["images"])}
    if "best" in entry:
        inputs["benchmark"] = ["results/benchmark.parquet"]
    return inputs


def train_hashes(config: dict[str, Any], name: str) -> list[str]:
    """The train-config hashes of a set's candidate jobs (a rule param: the set reruns when they change)."""
    return [config_hash(train_config(config, job)) for job in candidate_jobs(config, name)]


def predict_pages(config: dict[str, Any]) -> list[dict[str, str]]:
    """The report's links to the predict sets' pages (relative to results/report/index.html), each with its
    images and model in words. Every configured set is listed, built or not (``snakemake predict`` builds)."""
    pages = []
    for name, entry in predict_sets(config).items():
        images = entry["images"] if isinstance(entry["images"], str) else ", ".join(entry["images"])
        if "job" in entry:
            job = entry["job"]
            model = f"job {job['dataset']}/{job['category']}/{job['model']}/{job['seed']}"
        elif "best" in entry:
            best = entry["best"]
            model = f"the best job of {best['dataset']}/{best['category']} by {best.get('metric', 'image_AUROC')}"
        else:
            model = f"Hub model {entry['hub']}" + (f"@{entry['revision']}" if entry.get("revision") else "")
        pages.append({"name": name, "href": f"../predict/{name}/index.html", "images": images, "model": model})
    return pages
