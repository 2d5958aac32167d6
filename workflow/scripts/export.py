"""Export one job's model to ONNX / OpenVINO, check parity with its checkpoint, time the runtimes."""

from iadbench.config.base import Job
from iadbench.core.files import log_to_file
from iadbench.serve.export import export_job

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
wildcards = snakemake.wildcards
export_job(
    results_dir="results",
    job=Job(wildcards.dataset, wildcards.category, wildcards.model, int(wildcards.seed), wildcards.setting),
    config=snakemake.config,
    out_dir=snakemake.output.record.rsplit("/", 1)[0],
    formats=snakemake.params.formats,
    tolerance=snakemake.params.tolerance,
    repeats=snakemake.params.repeats,
    threads=snakemake.threads,
    asset_dir=snakemake.params.asset_dir,
)
