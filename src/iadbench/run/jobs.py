"""The job process's side of training, timing and evaluation: lock the job folder, have the child do the work
(:mod:`iadbench.run.isolated`), settle the attempt (:mod:`iadbench.run.attempts`), leave the record.

Snakemake starts one such process per job, and all it does is wait for its child; so this module imports no
torch, pandas, metrics or model code (0.1 s, where the stages' own modules take 0.5-0.8 s: docs/speed.md). The
work is in the children's modules (:mod:`iadbench.run.train`, :mod:`iadbench.run.timing`,
:mod:`iadbench.run.evaluate`), which a fork server has loaded; a job whose child died builds its failed record
from them, importing them then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.core.files import read_json, write_json
from iadbench.run import attempts
from iadbench.run.isolated import isolated_child
from iadbench.run.timing import TIMING_DISABLED, VIDEO_NOT_TIMED, empty_timing, json_safe

# The row's columns that say how the evaluation went (the parent's verdict on its child).
OUTCOME_COLUMNS = ("status", "error_type", "error_tail")


def run_training(*, log_path: str | Path | None = None, gpu_lock_dir: str | Path = ".snakemake/gpu-slots",
                 gpu_slots: int = 0, attempt: int = 1, final_attempt: int = 1, retry_round: int = 0,
                 results_dir: str | Path = "results", **job_args: Any) -> dict[str, Any]:
    """Run :func:`iadbench.run.train.train_job` in a child process that holds the job folder's lock (see
    :mod:`iadbench.run.attempts`): a job killed by the OS (out of memory, segmentation fault) still leaves a
    ``failed`` record with its log tail, or, while this run has attempts left, fails so that the
    scheduler retries it with more memory (:class:`~iadbench.run.attempts.RetryWithMoreResources`).

    Holds a GPU slot for the child's lifetime and pins the child to it (``CUDA_VISIBLE_DEVICES``).
    """
    out_dir = Path(job_args["out_dir"])
    info_path = out_dir / "train_info.json"
    outputs = [out_dir / name for name in ("train_info.json", "predictions.npz", "model.ckpt")]
    with isolated_child(out_dir, stale=outputs, gpu_lock_dir=gpu_lock_dir, gpu_slots=gpu_slots,
                        weights=job_args.get("weights"), asset_dir=job_args.get("asset_dir")) as child:
        device = child.device
        returncode = child.run("iadbench.run.train", job_args)
        if returncode == 0 and info_path.exists():
            info = read_json(info_path)
            outcome = attempts.Outcome(info["status"], info.get("error_type", ""), info.get("error_tail", ""))
        else:
            from iadbench.run.train import base_info  # the child's module: only for a dead child

            info = {**base_info(job_args), "peak_rss_mb": attempts.child_peak_rss_mb()}
            outcome = attempts.child_failure(returncode, log_path)
        try:
            info["attempts"] = attempts.settle(out_dir, outcome, stage="train", attempt=attempt,
                                               final_attempt=final_attempt, retry_round_=retry_round,
                                               log_path=log_path, results_dir=results_dir)
        except attempts.RetryWithMoreResources:
            for path in outputs:
                path.unlink(missing_ok=True)
            raise
        if outcome.status != "ok" and info.get("status") != "failed":
            from iadbench.run.train import write_failure  # the child's module: only on failure

            write_failure(out_dir, info, outcome.error_type, outcome.error_tail)
        info.update(cuda_visible_devices=device or "", retry_round=retry_round)
        write_json(info_path, info)
    return info


def run_timing(*, models: dict[str, dict[str, Any]], out_path: str | Path, log_path: str | Path | None = None,
               gpu_lock_dir: str | Path = ".snakemake/gpu-slots", gpu_slots: int = 0, enabled: bool = True,
               **common: Any) -> dict[str, Any]:
    """Time ``models`` (see :func:`iadbench.run.timing.time_models`; the rule gives one) in one child process
    holding the folder's lock and a GPU slot (like training), and write ``out_path`` (timing.json,
    ``{model: record}``). A model whose training failed, or a video model, is not timed; a child killed (out of
    memory, a crash in a kernel) leaves a NaN record with the reason for each model it had not timed yet.
    ``enabled`` false (the config's ``timing.enabled``): every model gets a NaN record saying so, and no child
    starts."""
    out_path = Path(out_path)
    seed = {"timing_seed": common.get("seed")}
    records: dict[str, Any] = {}
    timed: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        info = read_json(model["train_info_path"])
        if not enabled:
            records[name] = json_safe(empty_timing(TIMING_DISABLED, **seed))
        elif info.get("status") != "ok":
            reason = f"training failed ({info.get('error_type') or 'unknown error'}): not timed"
            records[name] = json_safe(empty_timing(reason, **seed))
        elif info.get("track") == "video":  # synthetic single images do not fit a clip model's input
            records[name] = json_safe(empty_timing(VIDEO_NOT_TIMED, **seed))
        else:
            timed[name] = model
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.unlink(missing_ok=True)
    if timed:
        with isolated_child(out_path.parent, gpu_lock_dir=gpu_lock_dir, gpu_slots=gpu_slots,
                            weights=common.get("weights"), asset_dir=common.get("asset_dir")) as child:
            returncode = child.run("iadbench.run.timing", {**common, "models": timed, "out_path": str(out_path)})
            done = read_json(out_path) if out_path.exists() else {}
            if returncode != 0 or set(done) != set(timed):
                outcome = attempts.child_failure(returncode, log_path)
                for name in timed:
                    done.setdefault(name, json_safe(empty_timing(
                        f"{outcome.error_type}: the timing process died", timing_traceback=outcome.error_tail,
                        **seed)))
            records.update(done)
    records = {name: records[name] for name in models}  # the config's order
    write_json(out_path, records)
    return records


def run_evaluation(*, log_path: str | Path | None = None, attempt: int = 1, final_attempt: int = 1,
                   retry_round: int = 0, results_dir: str | Path = "results", **job_args: Any) -> None:
    """Run :func:`iadbench.run.evaluate.evaluate_job` in a child process holding the job folder's lock, like
    training (:func:`run_training`): an evaluation killed for memory is retried with more while this run has
    attempts left, and leaves a failed row on the last one. The child writes the row, its
    ``evaluation_attempts`` included (this attempt's number: the one :func:`iadbench.run.attempts.settle` then
    records); this process reads back only its outcome columns."""
    row_path = Path(job_args["row_path"])
    job_dir = row_path.parent
    if "timing_path" not in job_args:
        # The timing job's record, one per setting x dataset x category x model (unified: per training job;
        # results/timing/<s>/<d>/<c>/<m>/timing.json, the first seed's model); none: NaN columns.
        from iadbench.config.base import Job

        job_args["timing_path"] = str(Path(results_dir, "timing", Job(*job_args["job"]).training.path).parent
                                      / "timing.json")
    scores_path = Path(job_args.get("scores_path") or row_path.with_name("scores.parquet"))
    side_outputs = (row_path, scores_path, row_path.with_name("bootstrap.npz"))
    with isolated_child(job_dir, stale=side_outputs) as child:
        number = attempts.next_attempt(job_dir)  # the job folder is locked: settle counts the same
        returncode = child.run("iadbench.run.evaluate", {**job_args, "job": list(job_args["job"]),
                                                         "attempt_number": number})
        if returncode == 0 and row_path.exists():
            outcome = attempts.Outcome(**_row_outcome(row_path))
        else:
            outcome = attempts.child_failure(returncode, log_path)
        try:
            attempts.settle(job_dir, outcome, stage="evaluate", attempt=attempt, final_attempt=final_attempt,
                            retry_round_=retry_round, log_path=log_path, results_dir=results_dir)
        except attempts.RetryWithMoreResources:
            for path in side_outputs:
                path.unlink(missing_ok=True)
            raise
        if returncode != 0 or not row_path.exists():
            from iadbench.run.evaluate import write_failed_row  # the child's module: only for a dead child

            write_failed_row(job_args, outcome, number, scores_path)


def _row_outcome(row_path: Path) -> dict[str, str]:
    """The outcome columns of a row file, null as ""."""
    import pyarrow.parquet as pq  # not pandas: its import is most of a job process's start

    values = pq.read_table(row_path, columns=list(OUTCOME_COLUMNS)).to_pylist()[0]
    return {key: "" if values[key] is None or values[key] != values[key] else str(values[key])  # NaN != NaN
            for key in OUTCOME_COLUMNS}
