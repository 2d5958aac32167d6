"""Time one trained model (its first seed, in a child process); writes its timing.json, NaN if it cannot."""

from iadbench.core.files import log_to_file
from iadbench.run.jobs import run_timing

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
run_timing(
    log_path=snakemake.log[0],
    gpu_slots=snakemake.resources.gpu_slots if snakemake.resources.gpu else 0,
    models=snakemake.params.models,  # the model: spec, image size, its first seed's checkpoint (the inputs)
    weights=snakemake.params.weights,
    asset_dir=snakemake.params.asset_dir,
    batch=snakemake.params.batch,
    budget_s=snakemake.params.budget_seconds,
    threads=snakemake.threads,
    seed=snakemake.params.seed,
    enabled=snakemake.params.enabled,
    out_path=snakemake.output[0],
)
