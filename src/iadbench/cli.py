"""The ``iadbench`` console command: one-off use of a finished benchmark's models.

Each subcommand is a ``register_<name>(subparsers)`` function that adds its parser and sets ``run`` (a
function of the parsed arguments returning the exit status). Errors the user can fix (a missing checkpoint,
a bad image pattern, an invalid config) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from iadbench.config.base import Job
from iadbench.config.load import SCHEMA_PATH, load_config
from iadbench.serve.export import export_job
from iadbench.serve.job_model import load_model_folder
from iadbench.serve.predict import predict_set
from iadbench.serve.upload import add_upload_arguments, run_upload


def _job(text: str) -> tuple[str, str, str, int]:
    parts = text.split("/")
    if len(parts) != 4 or not parts[3].isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not DATASET/CATEGORY/MODEL/SEED")
    return parts[0], parts[1], parts[2], int(parts[3])


def register_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="score images with a trained job's model (parquet, overlays, HTML)",
        description="Score IMAGES (files, folders or globs) with the model of a benchmark job, a model folder "
                    "or a Hugging Face Hub repo; writes predictions.parquet, overlays/ and index.html to --out.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--job", type=_job, metavar="DATASET/CATEGORY/MODEL/SEED",
                        help="a trained job of --results (trained with --config)")
    source.add_argument("--hub", metavar="REPO_ID", help="a Hub model repo (owner/name) with an iadbench model folder")
    source.add_argument("--model-folder", type=Path, metavar="DIR",
                        help="a model folder (model.safetensors + iadbench_job.json), e.g. one `snakemake publish` wrote")
    parser.add_argument("--revision", help="--hub: branch, tag or commit (default main)")
    parser.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"),
                        help="the config that trained --job (default: config/config.yaml)")
    parser.add_argument("--max-fpr", type=float, metavar="X",
                        help="threshold keeping the false-positive rate on the job's defect-free test images <= X "
                             "(default: the F1-optimal threshold on the job's test set)")
    parser.add_argument("--out", type=Path, help="output folder (default: <results>/predict/cli-<job or repo>)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("images", nargs="+", metavar="IMAGES", help="image files, folders or glob patterns")
    parser.set_defaults(run=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    if args.revision and not args.hub:
        raise ValueError("--revision goes with --hub")
    threshold = {"method": "fpr", "max_fpr": args.max_fpr} if args.max_fpr is not None else {"method": "f1"}
    entry = {"images": args.images, "threshold": threshold}
    config = None
    if args.job:
        entry["job"] = dict(zip(("dataset", "category", "model", "seed"), args.job, strict=True))
        config = load_config(args.config, SCHEMA_PATH)
        label = "-".join(map(str, args.job))
    elif args.hub:
        entry["hub"] = args.hub
        if args.revision:
            entry["revision"] = args.revision
        label = args.hub.replace("/", "-")
    else:
        label = args.model_folder.resolve().name
    out = args.out or args.results / "predict" / f"cli-{label}"
    model_loader = (lambda: load_model_folder(args.model_folder)) if args.model_folder else None
    frame = predict_set(name=f"cli-{label}", entry=entry, config=config, out_dir=out, results_dir=args.results,
                        template_dir=None, threads=args.threads, model_loader=model_loader,
                        configfile=args.config)
    errors = int((frame["status"] != "ok").sum())
    print(f"{len(frame)} files: {len(frame) - errors} scored, {int((frame['decision'] == 'anomalous').sum())} "
          f"anomalous (threshold {frame['threshold'].iloc[0]:.6g}, {frame['threshold_method'].iloc[0]}), "
          f"{errors} not readable; {out}/index.html")
    return 0


def register_export(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a trained job's model to ONNX / OpenVINO with a parity check",
        description="Export the model of a benchmark job (iadbench.serve.export): model.onnx, openvino/, export.json "
                    "(parity with the checkpoint on the job's test images, batch-1 CPU throughput) in --out.")
    parser.add_argument("--job", type=_job, required=True, metavar="DATASET/CATEGORY/MODEL/SEED",
                        help="a trained job of --results (trained with --config)")
    parser.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"),
                        help="the config that trained --job (default: config/config.yaml)")
    parser.add_argument("--formats", nargs="+", choices=("onnx", "openvino"), help="default: export.formats")
    parser.add_argument("--out", type=Path, help="output folder (default: <results>/export/<job path>)")
    parser.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    config = load_config(args.config, SCHEMA_PATH)
    job = Job(*args.job)
    out = args.out or args.results / "export" / job.path
    record = export_job(results_dir=args.results, job=job, config=config, out_dir=out,
                        formats=args.formats or config["export"]["formats"], tolerance=config["export"]["tolerance"],
                        repeats=config["export"]["timing_repeats"])
    for fmt, entry in record.get("formats", {}).items():
        print(f"{fmt}: {entry['status']} {entry.get('reason', '')}".rstrip())
    print(f"{record['status']}: {out}/export.json" + (f" ({record['reason']})" if record["reason"] else ""))
    return 0 if record["status"] == "ok" else 1


def register_upload(subparsers) -> None:
    parser = subparsers.add_parser(
        "upload", help="upload the folders `snakemake publish` wrote to the Hugging Face Hub",
        description="Create each repo and upload its folder (HfApi.create_repo + upload_folder) when a token is set "
                    "(HF_TOKEN or `huggingface-cli login`); otherwise print what would be uploaded.")
    add_upload_arguments(parser)
    parser.set_defaults(run=run_upload)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iadbench", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_predict(subparsers)
    register_export(subparsers)
    register_upload(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:  # ConfigError, JobModelError, PredictError among them
        print(f"iadbench {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
