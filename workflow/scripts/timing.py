"""Time one trained model's inference (in a child process); writes its timing.json, NaN if it cannot."""

from iadbench.core.files import log_to_file
from iadbench.run.timing import run_timing

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
run_timing(
    log_path=snakemake.log[0],
    gpu_slots=snakemake.resources.gpu_slots if snakemake.resources.gpu else 0,
    checkpoint_path=snakemake.input.checkpoint,
    train_info_path=snakemake.input.info,
    model_name=snakemake.wildcards.model,
    model_spec=snakemake.params.model_spec,
    image_size=snakemake.params.image_size,
    weights=snakemake.params.weights,
    asset_dir=snakemake.params.asset_dir,
    batch=snakemake.params.batch,
    budget_s=snakemake.params.budget_seconds,
    threads=snakemake.threads,
    out_path=snakemake.output[0],
)
