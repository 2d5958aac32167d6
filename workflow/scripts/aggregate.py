"""Merge the jobs' rows into results/benchmark.parquet."""

from iadbench.core.files import log_to_file
from iadbench.results.rows import aggregate

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
aggregate(snakemake.input, snakemake.output[0])
