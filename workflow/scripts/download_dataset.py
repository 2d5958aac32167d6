"""Download (or locate), verify and safely extract one dataset; writes its `.complete` last."""

from pathlib import Path

from iadbench.core.files import log_to_file
from iadbench.datasets import prepare_dataset

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
prepare_dataset(snakemake.params.spec, root=Path(snakemake.output[0]).parent)
