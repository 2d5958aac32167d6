"""A synthetic but complete results tree at paper scale, in exactly the layout the report reads: the merged rows
(``results/benchmark.parquet``), each evaluation job's per-image scores and bootstrap replicates
(``results/evaluate/<dataset>/<category>/<model>/<seed>/scores.parquet``, ``bootstrap.npz`` with the pixel metrics'
leave-one-image-out values as evaluation keeps them) and the first
seed's gallery strip of every dataset x category x model (``results/gallery/.../<seed>.png``).

Five datasets with their real category lists, the study's 15 models, 3 seeds (2,070 jobs); a few jobs fail so
that partial and failed cells appear as they do in real runs. Seeded: the same seed writes the same tree. Image
metrics are computed from the written scores, so the paired tests read what the rows say. It feeds
``benchmarks/bench_report.py --paper-scale`` and the browser test of the report; its numbers mean nothing.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from PIL import Image

from iadbench.core.files import atomic_write
from iadbench.datasets import DATASET_CATEGORIES
from iadbench.metrics.maps import f1_optimal_threshold
from iadbench.metrics.measures import image_metrics
from iadbench.models.specs import MODEL_SPECS
from iadbench.results.rows import CI_METRICS, make_rows, write_row
from iadbench.stats.jackknife import Jackknife
from iadbench.stats.jackknife import members as jackknife_members
from iadbench.stats.uncertainty import save_replicates

DATASETS = ("mvtec_ad", "visa", "mvtec_3d", "btech", "mpdd")
MODELS = tuple(name for name, spec in MODEL_SPECS.items() if spec.study)
SEEDS = (0, 1, 2)
N_RESAMPLES = 200  # bootstrap replicates per job (the real jobs keep 2,000; the report reads any number)
# (dataset, category, model, seed) of the jobs that fail: one cell with a failed seed (partial), one all failed.
FAILED_JOBS = (("mvtec_ad", "screw", "cflow", 1), *(("visa", "pcb1", "dsr", seed) for seed in SEEDS))
TILE = 48  # gallery tile side (pixels)
JET = colormaps["jet"]


@dataclass
class PaperTree:
    """What :func:`write_paper_tree` wrote, as the report rule hands it to ``build_report``."""

    root: Path
    benchmark_path: Path
    config: dict
    score_paths: list[Path] = field(default_factory=list)
    bootstrap_paths: list[Path] = field(default_factory=list)
    gallery_paths: list[Path] = field(default_factory=list)


def paper_config() -> dict:
    """The config such a run would have had (what the report reads from it: datasets, models, seeds)."""
    return {"datasets": {name: {"type": name, "categories": "all"} for name in DATASETS},
            "models": {name: {} for name in MODELS}, "seeds": list(SEEDS), "weights": "pretrained",
            "report": {"title": "Paper-scale synthetic results (numbers mean nothing)"}}


def _rng(seed: int, *key) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32("/".join(map(str, key)).encode())])


def _scores(rng: np.random.Generator, skill: float, n_normal: int, n_defective: int) -> np.ndarray:
    """Image scores: defect-free ~ N(0, 1), defective shifted by ``skill`` standard deviations."""
    return np.concatenate([rng.normal(0.0, 1.0, n_normal), rng.normal(skill, 1.0, n_defective)])


def _replicates(rng: np.random.Generator, shared: np.ndarray, values: dict[str, float]) -> tuple[list[str], np.ndarray]:
    """Bootstrap replicates around each value: the test set's shared resampling noise plus a little of the job's."""
    names = [name for name in CI_METRICS if np.isfinite(values.get(name, np.nan))]
    columns = [np.clip(values[name] + 0.02 * shared + 0.005 * rng.normal(size=shared.size), 0.0, 1.0) for name in names]
    return names, np.stack(columns, axis=1) if columns else np.zeros((0, 0))


def _jackknife(seed: int, job: tuple, names: list[str], replicates: np.ndarray, paths: list[str],
               labels: np.ndarray) -> Jackknife | None:
    """Leave-one-image-out values of the pixel metrics, as evaluation saves them (:mod:`iadbench.stats.jackknife`):
    around each metric's replicates' mean, the test set's shared per-image terms plus a little of the job's, scaled
    so the jackknife standard error matches the replicates' spread (se = sqrt(n - 1) x the per-image spread)."""
    pixel = [index for index, name in enumerate(names) if name.startswith("pixel_")]
    if not pixel:
        return None
    dataset, category, model, run_seed = job
    n = labels.size
    shared = _rng(seed, dataset, category, run_seed, "jackknife").normal(size=n)
    own = _rng(seed, dataset, category, model, run_seed, "jackknife").normal(size=(n, len(pixel)))
    scale = 1 / np.sqrt(n - 1)
    values = np.stack([np.clip(replicates[:, index].mean() + scale * (0.02 * shared + 0.005 * own[:, column]), 0, 1)
                       for column, index in enumerate(pixel)], axis=1)
    order = np.argsort(np.asarray(paths, dtype=str), kind="stable")
    return Jackknife(tuple(names[index] for index in pixel), values[order].astype(np.float64),
                     np.asarray(paths, dtype=str)[order], (labels > 0)[order])


def _strip(rng: np.random.Generator, labels: np.ndarray, skill: float, failed: bool) -> np.ndarray:
    """A gallery strip: up to three defective images and one defect-free one, each a texture with the anomaly map
    overlaid (jet, alpha 0.45, one scale for the strip) and the ground truth outlined in red."""
    if failed:
        return np.full((TILE, TILE, 3), 235, dtype=np.uint8)
    picks = [*np.flatnonzero(labels)[:3], *np.flatnonzero(labels == 0)[:1]]
    yy, xx = np.mgrid[0:TILE, 0:TILE]
    tiles = []
    for index in picks:
        phase = rng.uniform(0, 2 * np.pi, 2)  # a smooth texture and background heat: small PNGs, as real ones
        texture = 130 + 30 * np.sin(xx / 4 + phase[0]) * np.cos(yy / 6 + phase[1])
        mask = np.zeros((TILE, TILE), dtype=bool)
        heat = 0.15 + 0.1 * np.sin((xx + yy) / 9 + phase[0])
        if labels[index]:
            cy, cx, radius = *rng.integers(10, TILE - 10, 2), rng.integers(4, 9)
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2
            heat += min(1.0, skill / 3) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (radius + 2) ** 2))
        overlay = JET(np.clip(heat, 0, 1))[..., :3] * 255
        tile = 0.55 * texture[..., None] + 0.45 * overlay
        edge = mask & ~(np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1))
        tile[edge] = (255, 0, 0)
        tiles += [tile, np.full((TILE, 3, 3), 255.0)]
    return np.concatenate(tiles[:-1], axis=1).astype(np.uint8)


def _write_png(path: Path, pixels: np.ndarray) -> None:
    atomic_write(path, lambda temporary: Image.fromarray(pixels).save(temporary, format="PNG"))


def _row(dataset: str, category: str, model: str, seed: int, rng: np.random.Generator, values: dict,
         n_test: int, n_defective: int, failed: bool) -> dict:
    spec = MODEL_SPECS[model]
    row = {"dataset": dataset, "category": category, "model": model, "seed": seed, "track": "image",
           "status": "failed" if failed else "ok", "weights": "pretrained", "image_size": 256,
           "eval_resolution": "native", "task_type": spec.task_type, "n_test": n_test,
           "n_test_anomalous": n_defective, "n_train": 3 * n_test, "attempts": 1,
           "finished_at": pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(minutes=int(rng.integers(0, 40000))),
           "python_version": "3.11", "anomalib_version": "2.7.0", "torch_version": "2.5.1", "git_commit": "synthetic"}
    if failed:
        return row | {"error_type": "OutOfMemoryError", "error_tail": "CUDA out of memory (synthetic failure)"}
    speed = float(np.exp(_rng(0, model).normal(3.5, 1.2)))
    return row | values | {
        "pixel_metrics_applicable": spec.task_type != "classification", "degenerate_maps": False,
        "ci_method": "logit", "ci_resamples": N_RESAMPLES, "ci_level": 0.95,
        "fit_seconds": float(rng.uniform(20, 3000)), "inference_seconds": float(n_test / speed),
        "images_per_second": speed * float(rng.uniform(0.9, 1.1)), "throughput_b32": speed * 4,
        "latency_ms_b1": 1000 / speed, "gflops_per_image": float(_rng(1, model).uniform(5, 120)),
        "peak_rss_mb": float(_rng(2, model).uniform(1500, 16000)) * float(rng.uniform(0.95, 1.05)),
        "n_parameters": int(_rng(3, model).integers(1_000_000, 90_000_000)), "timing_seed": SEEDS[0]}


def write_paper_tree(root: str | Path, seed: int = 0) -> PaperTree:
    """Write the tree under ``root`` (``root/results/...``) and return where its parts are."""
    root = Path(root)
    results = root / "results"
    tree = PaperTree(root=root, benchmark_path=results / "benchmark.parquet", config=paper_config())
    model_skill = {model: _rng(seed, model).uniform(1.0, 3.0) for model in MODELS}
    rows = []
    for dataset in DATASETS:
        for category in DATASET_CATEGORIES[dataset]:
            size = _rng(seed, dataset, category)
            n_normal, n_defective = int(size.integers(20, 60)), int(size.integers(40, 110))
            labels = np.r_[np.zeros(n_normal, np.int8), np.ones(n_defective, np.int8)]
            defects = ["good" if label == 0 else ("crack", "scratch", "hole")[index % 3]
                       for index, label in enumerate(labels)]
            paths = [f"{dataset}/{category}/test/{defect}/{index:03d}.png" for index, defect in enumerate(defects)]
            difficulty = size.uniform(-0.8, 0.8)
            for model in MODELS:
                skill = model_skill[model] + difficulty + _rng(seed, dataset, model).normal(0, 0.4)
                for run_seed in SEEDS:
                    rng = _rng(seed, dataset, category, model, run_seed)
                    shared = _rng(seed, dataset, category, run_seed).normal(size=N_RESAMPLES)
                    failed = (dataset, category, model, run_seed) in FAILED_JOBS
                    folder = results / "evaluate" / dataset / category / model / str(run_seed)
                    values: dict[str, float] = {}
                    if not failed:
                        scores = _scores(rng, max(skill + rng.normal(0, 0.15), 0.05), n_normal, n_defective)
                        values = image_metrics(scores, labels)
                        values["image_F1_threshold"] = f1_optimal_threshold(scores, labels)[0]
                        if MODEL_SPECS[model].task_type != "classification":
                            pixel = float(np.clip(0.80 + 0.06 * skill + rng.normal(0, 0.01), 0.5, 0.999))
                            values |= {"pixel_AUROC": pixel, "pixel_AP": pixel - float(rng.uniform(0.3, 0.5)),
                                       "pixel_F1_max": pixel - float(rng.uniform(0.25, 0.4)),
                                       "pixel_AUPRO": pixel - float(rng.uniform(0.03, 0.12))}
                            values["pixel_AUPRO_30"] = values["pixel_AUPRO"]
                            values["pixel_AUPRO_05"] = values["pixel_AUPRO"] - float(rng.uniform(0.1, 0.3))
                        table = pd.DataFrame({"image_path": paths, "label": labels, "defect_type": defects,
                                              "image_score": scores, "map_max": scores + 1.0,
                                              "map_mean": scores / 4})
                    else:
                        table = pd.DataFrame({"image_path": pd.Series(dtype="string")})
                    names, replicates = _replicates(rng, shared, values)
                    folder.mkdir(parents=True, exist_ok=True)
                    atomic_write(folder / "scores.parquet", lambda temporary, t=table: t.to_parquet(temporary, index=False))
                    left_out = None if failed else _jackknife(seed, (dataset, category, model, run_seed), names,
                                                              replicates, paths, labels)
                    save_replicates(folder / "bootstrap.npz", names, replicates, extra=jackknife_members(left_out))
                    tree.score_paths.append(folder / "scores.parquet")
                    tree.bootstrap_paths.append(folder / "bootstrap.npz")
                    rows.append(_row(dataset, category, model, run_seed, rng, values, n_normal + n_defective,
                                     n_defective, failed))
                    if run_seed == SEEDS[0]:
                        gallery = results / "gallery" / dataset / category / model / f"{run_seed}.png"
                        _write_png(gallery, _strip(rng, labels, skill, failed))
                        tree.gallery_paths.append(gallery)
    write_row(make_rows(rows), tree.benchmark_path)
    return tree
