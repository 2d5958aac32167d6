"""Folders ready for the Hugging Face Hub, and the one command that uploads them.

``publish_run`` writes, under ``results/publish/``:

* ``dataset/``: ``data/benchmark.parquet`` (the results, one row per job) and ``README.md``, a dataset card
  whose YAML metadata (license, tags, task categories, pretty name, ``configs`` over ``data/*.parquet``)
  lets ``datasets.load_dataset`` read it, and whose body gives the provenance and the config;
* ``models/<dataset>-<category>-<model>-<seed>/`` per published job: ``model.safetensors`` (the job's weights
  from its checkpoint, :func:`iadbench.models.checkpoint.write_safetensors`; never the pickle ``model.ckpt``),
  ``iadbench_job.json`` (:func:`job_manifest`: what ``iadbench predict`` needs to rebuild the model and its
  threshold), ``README.md`` (a model card whose ``model-index`` carries the job's metrics, built with
  huggingface_hub's ``ModelCard``/``EvalResult``) and ``export/`` (the exported ONNX / OpenVINO files when
  the job was exported);
* ``manifest.json``: each folder, its repo type and repo name (what ``upload`` sends where).

``upload`` sends every folder with ``HfApi.create_repo`` + ``upload_folder`` when a token is set (``HF_TOKEN``
or ``huggingface-cli login``); without one (or with ``--dry-run``) it prints what it would upload and exits 0.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from iadbench.config.base import Job
from iadbench.config.settings import DEFAULT_SETTING
from iadbench.core.files import read_json, write_json
from iadbench.core.provenance import HOST_COLUMNS
from iadbench.models.checkpoint import safe_globals_of, write_safetensors
from iadbench.models.registry import import_class, resolve_class_path
from iadbench.report.templating import TEMPLATE_DIR
from iadbench.results.rows import is_missing, metric_columns, write_row
from iadbench.serve.job_model import JobModelError
from iadbench.serve.job_model import job_manifest as manifest_of

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
NAMESPACE_PLACEHOLDER = "<your-namespace>"
HIDDEN = [".*", "**/.*"]


class PublishError(ValueError):
    """A job that cannot be published (failed, missing, not in the results): the message names it."""


def job_folder_name(job: Job) -> str:
    return f"{job.dataset}-{job.category}-{job.model}-{job.seed}"


def _job_of(row: pd.Series | dict[str, Any]) -> Job:
    return Job(str(row["dataset"]), str(row["category"]), str(row["model"]), int(row["seed"]),
               str(row.get("setting", DEFAULT_SETTING)))


def _one_class(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows whose models are published: one-class jobs (a unified model is not one category's, and a
    model card names one category; the other settings' models stay in their results folder)."""
    return frame[frame["setting"] == DEFAULT_SETTING] if "setting" in frame else frame


def row_metrics(row: pd.Series | dict[str, Any]) -> dict[str, float]:
    """The job's metrics (:func:`iadbench.results.rows.metric_columns`) that have a value."""
    return {name: float(row[name]) for name in metric_columns(dict(row)) if not is_missing(row[name])}


def select_jobs(frame: pd.DataFrame, selection: str | list[dict[str, Any]], metric: str = "image_AUROC") -> list[Job]:
    """Which jobs of ``frame`` (the results) to publish.

    ``all``: every job whose status is ``ok``; ``best``: per dataset x category, the ok job with the highest
    ``metric`` (ties: first model in the results' order, then lowest seed); a list of ``{dataset, category,
    model, seed}``: exactly those, each of which must exist and have status ``ok`` (else :class:`PublishError`
    naming it). Failed jobs are never published.
    """
    frame = _one_class(frame)
    ok = frame[frame["status"] == "ok"]
    if selection == "all":
        return [_job_of(row) for _, row in ok.iterrows()]
    if selection == "best":
        if metric not in frame.columns:
            raise PublishError(f"publish.metric: the results have no column {metric!r}")
        chosen = []
        for _, group in ok.groupby(["dataset", "category"], sort=False):
            group = group[group[metric].notna()]
            if len(group):
                chosen.append(_job_of(group.sort_values([metric, "seed"], ascending=[False, True],
                                                        kind="stable").iloc[0]))
        return chosen
    jobs = []
    for entry in selection:
        job = Job(str(entry["dataset"]), str(entry["category"]), str(entry["model"]), int(entry["seed"]))
        match = frame[(frame["dataset"] == job.dataset) & (frame["category"] == job.category)
                      & (frame["model"] == job.model) & (frame["seed"] == job.seed)]
        if match.empty:
            raise PublishError(f"publish.jobs: {job.path} is not in the results (not a configured job)")
        if match.iloc[0]["status"] != "ok":
            raise PublishError(f"publish.jobs: {job.path} failed ({match.iloc[0]['error_type']}); "
                               "a failed job is not published")
        jobs.append(job)
    return jobs


def job_row(frame: pd.DataFrame, job: Job) -> pd.Series:
    frame = _one_class(frame)
    match = frame[(frame["dataset"] == job.dataset) & (frame["category"] == job.category)
                  & (frame["model"] == job.model) & (frame["seed"] == job.seed)]
    if match.empty:
        raise PublishError(f"{job.path} is not in the results")
    return match.iloc[0]


def job_manifest(results_dir: str | Path, job: Job, config: dict[str, Any]) -> dict[str, Any]:
    """``iadbench_job.json``'s content (the contract's :func:`iadbench.serve.job_model.job_manifest`)."""
    try:
        return manifest_of(results_dir, job.dataset, job.category, job.model, job.seed, config)
    except JobModelError as error:
        raise PublishError(str(error)) from error


def _markdown_environment():
    import jinja2

    # Markdown, not HTML: values go into tables and code blocks as they are; a missing value is an error.
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=False,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def _random_weights(config: dict[str, Any]) -> bool:
    return config.get("weights") == "random"


def model_card(job: Job, manifest: dict[str, Any], row: pd.Series | dict[str, Any], config: dict[str, Any],
               exported: list[str], export_record: dict[str, Any] | None = None, repo_id: str = ""):
    """The job's model card (huggingface_hub ``ModelCard``): metadata with a ``model-index`` of its metrics."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    publish = config["publish"]
    model_name = f"iadbench {job.model} {job.dataset}/{job.category} seed {job.seed}"
    dataset_name = f"{job.dataset} ({manifest['dataset_type']}) {job.category}"
    metrics = row_metrics(row)
    results = [EvalResult(task_type="anomaly-detection", task_name="Industrial anomaly detection",
                          dataset_type=manifest["dataset_type"], dataset_name=dataset_name,
                          dataset_config=job.category, dataset_split="test", metric_type=name, metric_name=name,
                          metric_value=value)
               for name, value in metrics.items()]
    data = ModelCardData(license=publish["license"], library_name="anomalib", model_name=model_name,
                         eval_results=results or None,
                         tags=["anomaly-detection", "anomalib", "iadbench", job.model]
                         + (["random-weights"] if _random_weights(config) else []))
    body = _markdown_environment().get_template("model_card.md.j2").render(
        job=job._asdict(), model_name=model_name, manifest=manifest, metrics=metrics,
        random_weights=_random_weights(config), exported=exported, export=export_record,
        repo_id=repo_id or f"{publish['namespace'] or NAMESPACE_PLACEHOLDER}/{publish['repo_prefix']}-{job_folder_name(job)}",
        versions={key: "" if is_missing(row.get(key)) else str(row.get(key))  # pd.NA has no truth value
                  for key in ("anomalib_version", "torch_version", "iadbench_version", "git_commit")},
        model_spec_yaml=yaml.safe_dump({job.model: manifest["model_spec"]}, sort_keys=False).rstrip())
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def dataset_card(frame: pd.DataFrame, config: dict[str, Any], published: list[Job], now: str,
                 left_out: Iterable[str] = ()):
    """The results' dataset card (huggingface_hub ``DatasetCard``): loadable metadata, provenance, config."""
    from huggingface_hub import DatasetCard, DatasetCardData

    publish = config["publish"]
    data = DatasetCardData(
        license=publish["license"], pretty_name=publish["pretty_name"],
        tags=["anomaly-detection", "anomalib", "iadbench", "benchmark"]
        + (["random-weights"] if _random_weights(config) else []),
        task_categories=["image-classification", "image-segmentation"],
        size_categories=["n<1K" if len(frame) < 1000 else "1K<n<10K" if len(frame) < 10000 else "10K<n<100K"],
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "data/*.parquet"}]}])

    def values(column: str) -> str:
        found = sorted({str(value) for value in frame.get(column, pd.Series(dtype=str)).dropna() if str(value)})
        return ", ".join(found) or "unknown"

    body = _markdown_environment().get_template("dataset_card.md.j2").render(
        pretty_name=publish["pretty_name"], n_rows=len(frame), n_ok=int((frame["status"] == "ok").sum()),
        datasets=values("dataset"), categories=values("category"), models=values("model"),
        seeds=values("seed"), settings=values("setting") if "setting" in frame else "one_class",
        random_weights=_random_weights(config),
        provenance={"iadbench": values("iadbench_version"), "anomalib": values("anomalib_version"),
                    "torch": values("torch_version"), "config hash (per job)": f"{frame['config_hash'].nunique()} "
                    "distinct" if "config_hash" in frame else "unknown", "git commit": values("git_commit"),
                    "published": now},
        published=[job_folder_name(job) for job in published], left_out=list(left_out),
        metric_columns=[column for column in frame.columns if column.startswith(("image_", "pixel_"))
                        and not column.endswith(("_ci_low", "_ci_high"))],
        config_yaml=yaml.safe_dump({key: value for key, value in config.items() if key != "publish"},
                                   sort_keys=False).rstrip())
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def selection(frame: pd.DataFrame, publish: dict[str, Any], export_jobs: str | list[dict[str, Any]]) -> dict[str, list]:
    """``{"publish": [...], "export": [...]}``: the jobs (as dicts) each target acts on.

    ``export_jobs``: ``publish`` (the same jobs), ``all`` (every ok job) or a list; a listed job must be in the
    results (a failed one is exported to a failed record saying why)."""
    published = select_jobs(frame, publish["jobs"], publish["metric"])
    if export_jobs == "publish":
        exported = published
    elif export_jobs == "all":
        exported = select_jobs(frame, "all")
    else:
        exported, one_class = [], _one_class(frame)
        for entry in export_jobs:
            job = Job(str(entry["dataset"]), str(entry["category"]), str(entry["model"]), int(entry["seed"]))
            if one_class[(one_class["dataset"] == job.dataset) & (one_class["category"] == job.category)
                     & (one_class["model"] == job.model) & (one_class["seed"] == job.seed)].empty:
                raise PublishError(f"export.jobs: {job.path} is not in the results (not a configured job)")
            exported.append(job)
    return {"publish": [job._asdict() for job in published], "export": [job._asdict() for job in exported]}


def write_selection(benchmark_path: str | Path, publish: dict[str, Any], export_jobs, out_path: str | Path) -> None:
    write_json(out_path, selection(pd.read_parquet(benchmark_path), publish, export_jobs))


def publish_selected(*, results_dir: str | Path, benchmark_path: str | Path, selection_path: str | Path,
                     config: dict[str, Any], out_dir: str | Path) -> dict[str, Any]:
    """:func:`publish_run` for the jobs of ``selection_path`` (results/selected_jobs.json), with the export
    folders of those that were exported."""
    chosen = read_json(selection_path)
    jobs = [Job(**entry) for entry in chosen["publish"]]
    exported = {Job(**entry) for entry in chosen["export"]}
    export_dirs = {job: Path(results_dir, "export", job.path) for job in jobs if job in exported}
    return publish_run(results_dir=results_dir, benchmark_path=benchmark_path, config=config, jobs=jobs,
                       out_dir=out_dir, export_dirs=export_dirs)


def public_results(frame: pd.DataFrame, include_host_columns: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """The results as published, and the columns left out: without ``include_host_columns`` the
    host-identifying ones (:data:`HOST_COLUMNS`), which name machines of a private cluster."""
    left_out = [] if include_host_columns else [column for column in HOST_COLUMNS if column in frame.columns]
    return frame.drop(columns=left_out), left_out


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)


def publish_run(*, results_dir: str | Path, benchmark_path: str | Path, config: dict[str, Any],
                jobs: Iterable[Job], out_dir: str | Path, export_dirs: dict[Job, Path] | None = None,
                now: str | None = None) -> dict[str, Any]:
    """Write the dataset folder and one model folder per job of ``jobs`` under ``out_dir`` (see the module).

    The folders are built beside ``out_dir`` and moved into place at the end: nothing half-written.
    Returns the manifest (also ``out_dir/manifest.json``).
    """
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    export_dirs = export_dirs or {}
    frame = pd.read_parquet(benchmark_path)
    now = now or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    jobs = list(jobs)
    staging = out_dir.with_name(f".{out_dir.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    publish = config["publish"]
    folders = [{"folder": "dataset", "repo_type": "dataset", "repo_name": publish["dataset_repo"]}]
    frame, left_out = public_results(frame, publish.get("include_host_columns", False))
    write_row(frame, staging / "dataset" / "data" / "benchmark.parquet")
    for job in jobs:
        row = job_row(frame, job)
        if row["status"] != "ok":
            raise PublishError(f"{job.path} failed ({row['error_type']}); a failed job is not published")
        checkpoint = results_dir / "train" / job.path / "model.ckpt"
        if not checkpoint.is_file() or checkpoint.stat().st_size == 0:
            raise PublishError(f"{job.path}: no checkpoint at {checkpoint}")
        folder = staging / "models" / job_folder_name(job)
        model_class = import_class(resolve_class_path(job.model, config["models"][job.model].get("class_path")))
        write_safetensors(checkpoint, folder / "model.safetensors", safe_globals_of(model_class))
        manifest = job_manifest(results_dir, job, config)
        write_json(folder / "iadbench_job.json", manifest)
        exported, export_record = [], None
        if job in export_dirs:
            exported = _copy_export(Path(export_dirs[job]), folder / "export")
            if exported:
                export_record = read_json(Path(export_dirs[job]) / "export.json")
        model_card(job, manifest, row, config, exported, export_record).save(folder / "README.md")
        folders.append({"folder": f"models/{job_folder_name(job)}", "repo_type": "model",
                        "repo_name": f"{publish['repo_prefix']}-{job_folder_name(job)}", "job": job._asdict()})
    dataset_card(frame, config, jobs, now, left_out).save(staging / "dataset" / "README.md")
    record = {"namespace": publish["namespace"], "created": now, "folders": folders}
    write_json(staging / MANIFEST, record)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, out_dir)
    return record


def _copy_export(export_dir: Path, target: Path) -> list[str]:
    """The job's exported files of the formats that passed parity (``model.onnx``, ``openvino/model.xml`` +
    ``.bin``) and its ``export.json`` (the parity and throughput record)."""
    record_path = export_dir / "export.json"
    if not record_path.is_file():
        return []
    formats = read_json(record_path).get("formats") or {}
    files = {"onnx": ("model.onnx", "model.onnx.data"), "openvino": ("openvino/model.xml", "openvino/model.bin")}
    copied = []
    for relative in [name for fmt, entry in formats.items() if entry.get("status") == "ok"
                     for name in files.get(fmt, ())] + ["export.json"]:
        if (export_dir / relative).is_file():
            _copy(export_dir / relative, target / relative)
            copied.append(f"export/{relative}")
    return copied
