"""Which of the study's 15 models export to ONNX / OpenVINO with parity, measured on a finished smoke run.

    .venv/bin/snakemake --cores 2 --configfile config/smoke.yaml          # once: every model trained, 64 px
    python benchmarks/export_survey.py --results results --config config/smoke.yaml
    python -m iadbench.models.docs docs/models.md                          # renders the table from the CSV

Each model's job (the config's first dataset, category and seed) is exported by :func:`iadbench.serve.export.export_job`
(both formats, parity on its test images, tolerance 1e-4 relative) in its own child process with a memory
limit, one at a time; a child that crashes, runs out of memory or time still gets a line with the reason.
Writes ``docs/export_support.csv`` (one line per model) and keeps each export.json under ``--scratch``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import resource
import subprocess
import sys
from pathlib import Path

COLUMNS = ("model", "onnx", "onnx_reason", "openvino", "openvino_reason", "batch", "max_abs_delta_score",
           "max_abs_delta_map", "input_size", "anomalib_version", "torch_version", "onnxruntime_version",
           "openvino_version", "measured")


def _child(results: str, config_path: str, model: str, out_dir: str) -> None:
    from iadbench.config.base import Job, jobs
    from iadbench.config.load import load_config
    from iadbench.serve.export import export_job

    root = Path(__file__).resolve().parents[1]
    config = load_config(config_path, root / "workflow" / "schemas" / "config.schema.yaml")
    job = next(job for job in jobs(config) if job.model == model)
    export_job(results_dir=results, job=Job(*job), config=config, out_dir=out_dir, repeats=3, threads=1)


def _limit(memory_gb: float):
    def apply() -> None:
        limit = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def _line(model: str, record: dict | None, failure: str, measured: str) -> dict[str, str]:
    line = dict.fromkeys(COLUMNS, "")
    line.update(model=model, measured=measured)
    if record is None:
        line.update(onnx="failed", openvino="failed", onnx_reason=failure, openvino_reason=failure)
        return line
    formats = record.get("formats") or {}
    for fmt in ("onnx", "openvino"):
        entry = formats.get(fmt)
        if entry is None:
            line[fmt], line[f"{fmt}_reason"] = "failed", record.get("reason", "")
        else:
            line[fmt], line[f"{fmt}_reason"] = entry["status"], entry.get("reason", "")
    batches = sorted({(entry.get("batch") or "").split(" (")[0] for entry in formats.values()
                      if entry.get("status") == "ok" and entry.get("batch")})
    line["batch"] = "/".join(batches)
    for key in ("max_abs_delta_score", "max_abs_delta_map"):
        values = [entry[key] for entry in formats.values() if entry.get(key) is not None]
        line[key] = f"{max(values):.2g}" if values else ""
    line["input_size"] = "x".join(map(str, record.get("input_size") or []))
    for key in ("anomalib_version", "torch_version", "onnxruntime_version", "openvino_version"):
        line[key] = record.get(key, "")
    return line


def main() -> int:
    if sys.argv[1:2] == ["--child"]:  # one model, in the child process
        _child(*sys.argv[2:6])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True, help="results folder of a finished smoke run")
    parser.add_argument("--config", default="config/smoke.yaml", help="the config that run used")
    parser.add_argument("--out", default="docs/export_support.csv")
    parser.add_argument("--scratch", default="results/export_survey", help="where the exports go")
    parser.add_argument("--models", nargs="*", help="only these (default: the study's 15)")
    parser.add_argument("--memory-gb", type=float, default=12.0, help="address-space limit of each child")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per model")
    arguments = parser.parse_args()
    from iadbench.models.specs import MODEL_SPECS

    models = arguments.models or [name for name, spec in MODEL_SPECS.items() if spec.study]
    out = Path(arguments.out)
    lines = {}
    if out.exists():  # a rerun for some models keeps the others' lines
        with open(out, newline="") as handle:
            lines = {line["model"]: line for line in csv.DictReader(handle)}
    for model in models:
        folder = Path(arguments.scratch) / model
        (folder / "export.json").unlink(missing_ok=True)
        measured = dt.date.today().isoformat()
        command = [sys.executable, __file__, "--child", arguments.results, arguments.config, model, str(folder)]
        try:
            result = subprocess.run(command, preexec_fn=_limit(arguments.memory_gb), timeout=arguments.timeout,
                                    capture_output=True, text=True, check=False)
            tail = " ".join((result.stderr or "").split()[-40:])
            failure = f"survey child exited {result.returncode}: {tail}"[:400]
        except subprocess.TimeoutExpired:
            failure = f"survey: no result within {arguments.timeout} s"
        record = json.loads((folder / "export.json").read_text()) if (folder / "export.json").exists() else None
        lines[model] = _line(model, record, failure, measured)
        print(model, lines[model]["onnx"], lines[model]["openvino"], lines[model]["onnx_reason"][:120],
              lines[model]["openvino_reason"][:120], flush=True)
        with open(out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(sorted(lines.values(), key=lambda line: line["model"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
