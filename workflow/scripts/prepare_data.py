"""Generate one category of a dataset (embedded: synthetic MVTec AD layout)."""

from pathlib import Path

from iadbench.core.files import log_to_file
from iadbench.datasets import prepare_category

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
output = Path(snakemake.output[0])
prepare_category(snakemake.params.spec, root=output.parent, category=output.name)
