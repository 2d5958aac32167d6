"""Efficiency measured right: inference cost timed in its own job, and training time without validation.

The ``timing`` rule (one job per dataset x category x model, after ``train``) rebuilds the model, loads
its first seed's checkpoint (the seeds share the architecture and input size, so the timed passes are
the same work) and times the torch model alone (``model.model`` in eval mode, no gradients) on synthetic
inputs made on the device at the model's input size: no image decoding, resizing or post-processing is
timed, and nothing else runs beside it (the rule asks for all cores and the ``timing`` resource). It
writes ``results/timing/<dataset>/<category>/<model>/timing.json`` (``{model: record}``;
:func:`iadbench.run.jobs.run_timing` can time several models in one process); evaluation merges the record into
every seed's row (:data:`TIMING_COLUMNS`; ``timing_seed`` names the seed timed). A model that cannot be timed,
or whose training failed, gets NaN and a ``timing_error``, never a failed job: the row keeps its metrics.

``fit_seconds`` (training time without validation) is :mod:`iadbench.run.clock`'s.
"""

from __future__ import annotations

import contextlib
import logging
import math
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iadbench.core.files import read_json, write_json

logger = logging.getLogger(__name__)

# The row's columns from timing.json (the rest of the file is diagnostics).
TIMING_COLUMNS = ("latency_ms_b1", "throughput_b32", "gflops_per_image", "timing_peak_gpu_mb", "timing_device",
                  "timing_batch", "timing_threads", "timing_error", "timing_seed")
NAN = float("nan")
# Video jobs (the video track) are not timed: their models take clips, and AI-VAD's cost depends on the
# regions found in real frames, so synthetic inputs would not measure it. Their rows keep fit_seconds,
# inference_seconds and images_per_second (frames per second over the test set) from training.
VIDEO_NOT_TIMED = "video model: not timed (clip inputs; see inference_seconds)"
TIMING_DISABLED = "not timed: the config's timing.enabled is false"


def empty_timing(reason: str, **known: Any) -> dict[str, Any]:
    """The timing record of a job that could not be timed: NaN numbers and why."""
    return {"latency_ms_b1": NAN, "throughput_b32": NAN, "gflops_per_image": NAN, "timing_peak_gpu_mb": NAN,
            "timing_device": "", "timing_batch": None, "timing_threads": None, **known, "timing_error": reason}


def measure(forward: Callable[[], Any], *, warmup: int, repeats: int, budget_s: float, min_repeats: int = 3,
            synchronize: Callable[[], None] | None = None, clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Seconds of each timed call of ``forward`` after ``warmup`` untimed ones.

    Stops after ``repeats`` calls, or earlier once ``budget_s`` is spent (never before ``min_repeats``):
    a slow model on a CPU still finishes. ``synchronize`` waits for queued GPU work, so each call is
    timed to its end, not to its launch. Warm-up stops early too (after one call) past half the budget.
    """
    synchronize = synchronize or (lambda: None)
    started = clock()
    for done in range(warmup):
        if done and clock() - started > budget_s / 2:
            break
        forward()
        synchronize()
    seconds: list[float] = []
    started = clock()
    while len(seconds) < repeats and (len(seconds) < min_repeats or clock() - started < budget_s):
        begin = clock()
        forward()
        synchronize()
        seconds.append(clock() - begin)
    return seconds


def median_ms(seconds: list[float]) -> float:
    return 1000 * statistics.median(seconds) if seconds else NAN


def count_gflops(forward: Callable[[], Any]) -> float:
    """GFLOPs of one call, as torch's FlopCounterMode counts them (2 per multiply-add; only the ops it
    has formulas for: convolutions, matrix products, attention). NaN if counting fails."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter:
            forward()
    except Exception:  # an op the counter cannot trace: the other columns still stand
        logger.exception("counting FLOPs failed")
        return NAN
    return counter.get_total_flops() / 1e9


def _transforms(model) -> list:
    transform = getattr(getattr(model, "pre_processor", None), "transform", None)
    return list(getattr(transform, "transforms", [transform] if transform is not None else []))


def input_side(model, image_size: int) -> int:
    """Side of the model's input: its pre-processor's resize (U-Flow always 448), else ``image_size``."""
    for transform in _transforms(model):
        size = getattr(transform, "size", None) if type(transform).__name__ == "Resize" else None
        if size:
            return int(size[0] if isinstance(size, list | tuple) else size)
    return image_size


def synthetic_batch(model, batch: int, side: int, device):
    """Random images already at the input size, on ``device``, normalised as the pre-processor would
    (outside the timed call: the pre-processor is not part of ``model.model``)."""
    import torch

    generator = torch.Generator(device=device).manual_seed(0)
    images = torch.rand(batch, 3, side, side, device=device, generator=generator)
    for transform in _transforms(model):
        mean, std = getattr(transform, "mean", None), getattr(transform, "std", None)
        if mean is not None and std is not None:
            images = (images - torch.tensor(mean, device=device).view(1, -1, 1, 1)) / torch.tensor(
                std, device=device).view(1, -1, 1, 1)
    return images


def time_torch_model(torch_model, make_batch: Callable[[int], Any], device, batch: int,
                     budget_s: float = 20.0) -> dict[str, Any]:
    """Latency at batch 1, throughput at ``batch``, GFLOPs per image and peak GPU memory of
    ``torch_model`` (eval mode, inference mode). A failure at the large batch (e.g. out of GPU memory)
    keeps the batch-1 columns and is reported in ``timing_error``."""
    import torch

    started = time.perf_counter()
    cuda = device.type == "cuda"
    synchronize = (lambda: torch.cuda.synchronize(device)) if cuda else None
    torch_model.eval()
    values: dict[str, Any] = {"timing_error": ""}
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    with torch.inference_mode():
        single = make_batch(1)
        values["gflops_per_image"] = count_gflops(lambda: torch_model(single))
        seconds = measure(lambda: torch_model(single), warmup=5, repeats=50, budget_s=budget_s,
                          synchronize=synchronize)
        values.update(latency_ms_b1=median_ms(seconds), repeats_b1=len(seconds))
        try:
            large = make_batch(batch)
            seconds = measure(lambda: torch_model(large), warmup=2, repeats=10, budget_s=budget_s,
                              synchronize=synchronize)
            values.update(latency_ms_large=median_ms(seconds), repeats_large=len(seconds),
                          throughput_b32=batch / statistics.median(seconds))
        except Exception as error:  # e.g. CUDA out of memory at the large batch: batch 1 still stands
            logger.exception("timing at batch %d failed", batch)
            values.update(throughput_b32=NAN, timing_error=f"batch {batch}: {type(error).__name__}: {error}"[:500])
            if cuda:
                torch.cuda.empty_cache()
    values["timing_peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else NAN
    # The job's real work (FLOP count, warm-up and timed calls): benchmarks/job_overhead.py weighs it.
    values["timing_work_seconds"] = time.perf_counter() - started
    return values


def timing_job(*, checkpoint_path: str | Path, train_info_path: str | Path, model_name: str,
               model_spec: dict[str, Any], image_size: int, weights: str, out_path: str | Path | None = None,
               batch: int = 32, threads: int = 1, asset_dir: str | Path | None = None, budget_s: float = 20.0,
               seed: int | None = None) -> dict[str, Any]:
    """Time one trained model (and write ``out_path``, a one-model timing.json, if given); never raises for
    the model's sake. ``seed``: the seed whose checkpoint is timed (recorded as ``timing_seed``)."""
    import torch

    torch.set_num_threads(threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    known = {"timing_device": "cpu" if device.type == "cpu" else
             f"cuda:{torch.cuda.current_device()} ({torch.cuda.get_device_name()})",
             "timing_batch": batch, "timing_threads": threads, "timing_seed": seed}
    info = read_json(train_info_path)
    if info.get("status") != "ok":
        result = empty_timing(f"training failed ({info.get('error_type') or 'unknown error'}): not timed", **known)
    else:
        try:
            result = {**known, **_time_checkpoint(checkpoint_path, model_name, model_spec, image_size, weights,
                                                  asset_dir, device, batch, budget_s)}
        except Exception as error:  # a model that cannot be timed still gets its (NaN) record
            logger.exception("timing %s failed", model_name)
            result = empty_timing(f"{type(error).__name__}: {error}"[:500], **known,
                                  timing_traceback="".join(traceback.format_exception(error))[-2000:])
    if out_path is not None:
        write_json(out_path, {model_name: json_safe(result)})
    return result


def time_models(*, models: dict[str, dict[str, Any]], out_path: str | Path, **common: Any) -> dict[str, Any]:
    """Time each of a category's ``models`` (name: checkpoint_path, train_info_path, model_spec, image_size)
    in turn, in this one process: torch and anomalib are imported once for all. ``out_path`` (timing.json,
    ``{model: record}``) is rewritten after each model, so a process that dies keeps the models it timed."""
    records: dict[str, Any] = {}
    for name, model in models.items():
        records[name] = json_safe(timing_job(model_name=name, **model, **common))
        write_json(out_path, records)
    return records


def json_safe(record: dict[str, Any]) -> dict[str, Any]:
    """NaN as null: timing.json stays standard JSON."""
    return {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in record.items()}


def _time_checkpoint(checkpoint_path, model_name, model_spec, image_size, weights, asset_dir, device,
                     batch: int, budget_s: float) -> dict[str, Any]:
    import torch

    # Model code here, not at the top: the job process (iadbench.run.jobs) imports this module for its records.
    from iadbench.models.assets import ASSET_DIR  # (model code: see above)
    from iadbench.models.build import build_model  # (model code)
    from iadbench.models.checkpoint import load_checkpoint  # (model code)
    from iadbench.models.random_weights import offline_model  # (model code)

    asset_dir = Path(ASSET_DIR if asset_dir is None else asset_dir)
    with contextlib.ExitStack() as guards:
        # random: the same architecture as training, nothing fetched; pretrained: read from the asset cache
        guards.enter_context(offline_model(model_name, model_spec, weights,
                                           "timing reads the trained checkpoint and never downloads"))
        model = build_model(model_name, model_spec, image_size, weights, asset_dir)
    missing, unexpected = load_checkpoint(model, checkpoint_path, strict=False)
    if missing or unexpected:
        logger.warning("checkpoint %s: %d missing keys %s, %d unexpected keys %s", checkpoint_path, len(missing),
                       missing[:10], len(unexpected), unexpected[:10])
    torch_model = getattr(model, "model", None)
    if not isinstance(torch_model, torch.nn.Module):
        raise TypeError(f"{type(model).__name__} has no torch model (`.model`) to time")
    model.to(device)
    side = input_side(model, image_size)
    values = time_torch_model(torch_model, lambda count: synthetic_batch(model, count, side, device), device,
                              batch, budget_s)
    return {**values, "timing_input_size": side, "n_missing_keys": len(missing), "n_unexpected_keys": len(unexpected)}


def read_timing(path: str | Path | None, model: str) -> dict[str, Any]:
    """The row's timing columns of ``model`` from a timing.json (null: NaN); {} when there is none."""
    if path is None or not Path(path).exists():
        return {}
    record = read_json(path).get(model, {})
    return {key: record[key] for key in TIMING_COLUMNS if key in record}


if __name__ == "__main__":  # the child of iadbench.run.jobs.run_timing
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    time_models(**read_json(sys.argv[1]))
