"""Write results/publish/: the dataset folder and one model folder per selected job."""

from pathlib import Path

from iadbench.core.files import log_to_file
from iadbench.serve.publish import publish_selected

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
publish_selected(results_dir=Path("results"), benchmark_path=snakemake.input.benchmark,
                 selection_path=snakemake.input.selection, config=snakemake.config, out_dir=snakemake.output[0])
