"""The continual evaluation rows → results/continual/matrix.parquet (per task) and category_matrix.parquet."""

from iadbench.continual.results import build_matrix
from iadbench.core.files import log_to_file

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
build_matrix(snakemake.input, snakemake.params.tasks, snakemake.output.matrix, snakemake.output.categories)
