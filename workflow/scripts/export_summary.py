"""results/export/summary.csv: one line per exported job."""

from iadbench.export import write_summary
from iadbench.files import log_to_file

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
write_summary(snakemake.input, snakemake.output[0])
