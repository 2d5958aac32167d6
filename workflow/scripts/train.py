"""Fit one model on one category (in a child process) and save its checkpoint and predictions."""

from iadbench.run.jobs import run_training
from iadbench.run.script import run_training_script

snakemake = globals()["snakemake"]
run_training_script(snakemake, run_training, category=snakemake.wildcards.category,
                    setting=snakemake.wildcards.setting, operating_point=snakemake.params.operating_point)
