"""results/export/summary.csv: one line per exported job."""

from iadbench.core.files import log_to_file
from iadbench.serve.export import write_summary

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
write_summary(snakemake.input, snakemake.output[0])
