"""The jobs `publish` and `export` act on, chosen from results/benchmark.parquet."""

from iadbench.core.files import log_to_file
from iadbench.serve.publish import write_selection

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
write_selection(snakemake.input[0], snakemake.params.publish, snakemake.params.export, snakemake.output[0])
