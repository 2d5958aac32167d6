"""How much of a finished run's job time is real work (target: overhead <= 3 on the embedded default).

Reads RESULTS_DIR (e.g. `results/` after `make run`): every job's Snakemake benchmark file
(`benchmarks/<rule>/....tsv`, column `s`: the job's wall seconds) and the seconds of real work the jobs
record beside their outputs:
  train     fit_wall_seconds + inference_seconds (train_info.json: anomalib's fit, the test-set predict)
  timing    timing_work_seconds of each model timed (timing.json: FLOP count, warm-up and timed calls); a
            record without it (before this field existed) gets repeats x median latency of both batch
            sizes, marked `~`
  evaluate  evaluation_seconds (row.parquet: predictions and masks read, metrics, bootstrap)
Every other rule (data preparation, gallery, aggregate, report) counts as job seconds with no work.
Prints one line per rule, then `overhead=<all job seconds / all work seconds>`.
    python benchmarks/job_overhead.py results
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections import defaultdict
from pathlib import Path


def job_seconds(tsv: Path) -> float:
    with open(tsv, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return sum(float(row["s"]) for row in rows) / len(rows) if rows else math.nan


def _number(value) -> float:
    return float(value) if isinstance(value, int | float) and not math.isnan(float(value)) else 0.0


def train_work(results: Path, job: Path) -> tuple[float, bool]:
    path = results / "train" / job / "train_info.json"
    if not path.exists():
        return 0.0, False
    info = json.loads(path.read_text())
    return _number(info.get("fit_wall_seconds")) + _number(info.get("inference_seconds")), False


def timing_work(results: Path, job: Path) -> tuple[float, bool]:
    path = results / "timing" / job / "timing.json"
    if not path.exists():
        return 0.0, False
    stored = json.loads(path.read_text())
    # Now {model: record} (one job per dataset x category x model); before, one bare record per job and seed.
    records = stored.values() if all(isinstance(value, dict) for value in stored.values()) else [stored]
    work, estimated = 0.0, False
    for record in records:
        if record.get("timing_work_seconds") is not None:
            work += _number(record["timing_work_seconds"])
        else:
            work += sum(_number(record.get(f"repeats_{size}")) * _number(record.get(f"latency_ms_{size}")) / 1000
                        for size in ("b1", "large"))
            estimated = True
    return work, estimated


def evaluate_work(results: Path, job: Path) -> tuple[float, bool]:
    path = results / "evaluate" / job / "row.parquet"
    if not path.exists():
        return 0.0, False
    import pandas as pd

    row = pd.read_parquet(path)
    if "evaluation_seconds" not in row:
        return 0.0, False
    return _number(row["evaluation_seconds"].iloc[0]), False


WORK = {"train": train_work, "timing": timing_work, "evaluate": evaluate_work}


def summarize(results: Path) -> list[dict]:
    """One record per rule: jobs, job seconds, work seconds (and whether any is estimated)."""
    benchmarks = results / "benchmarks"
    if not benchmarks.is_dir():
        raise SystemExit(f"{benchmarks}: no Snakemake benchmark files (is {results} a finished run's results/?)")
    totals: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "job_s": 0.0, "work_s": 0.0, "estimated": False,
                                                   "recorded": False})
    for tsv in sorted(benchmarks.rglob("*.tsv")):
        relative = tsv.relative_to(benchmarks).with_suffix("")
        rule = relative.parts[0] if len(relative.parts) > 1 else relative.name
        total = totals[rule]
        total["jobs"] += 1
        total["job_s"] += job_seconds(tsv)
        if rule in WORK:
            work, estimated = WORK[rule](results, Path(*relative.parts[1:]))
            total["work_s"] += work
            total["estimated"] |= estimated
            total["recorded"] = True
    return [{"rule": rule, **total} for rule, total in sorted(totals.items(), key=lambda item: -item[1]["job_s"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir", type=Path)
    summary = summarize(parser.parse_args().results_dir)
    print(f"{'rule':<20} {'jobs':>5} {'job s':>9} {'s/job':>7} {'work s':>9} {'job/work':>9}")
    for record in summary:
        work = f"{'~' if record['estimated'] else ''}{record['work_s']:.1f}" if record["recorded"] else "-"
        ratio = f"{record['job_s'] / record['work_s']:.1f}" if record["recorded"] and record["work_s"] else "-"
        print(f"{record['rule']:<20} {record['jobs']:>5} {record['job_s']:>9.1f} "
              f"{record['job_s'] / record['jobs']:>7.1f} {work:>9} {ratio:>9}")
    job_s = sum(record["job_s"] for record in summary)
    work_s = sum(record["work_s"] for record in summary)
    print(f"{'all':<20} {sum(r['jobs'] for r in summary):>5} {job_s:>9.1f} {'':>7} {work_s:>9.1f}")
    print(f"overhead={job_s / work_s:.1f}" if work_s else "overhead=nan (no work seconds recorded)")


if __name__ == "__main__":
    main()
