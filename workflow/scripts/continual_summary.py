"""results/continual/matrix.parquet → summary.parquet: ACC, FM, BWT, relative FM per run and metric."""

from iadbench.continual.results import build_summary
from iadbench.core.files import log_to_file

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
build_summary(snakemake.input[0], snakemake.output[0])
