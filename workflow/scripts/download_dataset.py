"""Download (or locate), verify and safely extract one dataset; writes its `.complete` last.

Without network the archive is also recorded beside the log (`<dataset>.missing.json`) for the run's one
summary of every download that could not be made."""

from pathlib import Path

from iadbench.core.files import log_to_file
from iadbench.datasets.pending import prepare_or_list

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
prepare_or_list(snakemake.wildcards.dataset, snakemake.params.spec, root=Path(snakemake.output[0]).parent,
                missing_path=Path(snakemake.log[0]).with_suffix(".missing.json"))
