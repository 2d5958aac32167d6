"""One step of the continual setting: fit on the step's task (from the previous step's model) and predict
every category seen so far, in a child process (iadbench.continual.step.run_step)."""

from iadbench.continual.step import run_step
from iadbench.run.script import run_training_script

snakemake = globals()["snakemake"]
continual = snakemake.params.continual
run_training_script(snakemake, run_step, seen_categories=continual["seen_categories"],
                    results_dir="results/continual", category=continual["train_categories"][0],
                    continual=continual)
