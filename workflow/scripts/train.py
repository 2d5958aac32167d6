"""Fit one model on one category (in a child process) and save its checkpoint and predictions."""

from iadbench.run.script import run_training_script
from iadbench.run.train import run_isolated

snakemake = globals()["snakemake"]
run_training_script(snakemake, run_isolated, category=snakemake.wildcards.category,
                    setting=snakemake.wildcards.setting, operating_point=snakemake.params.operating_point)
