"""The unified setting: fit one model on the defect-free images of every category of a dataset (in a child
process) and predict each category's test set into predictions/<category>.npz and .json."""

from iadbench.run.script import run_training_script
from iadbench.run.unified import run_unified

snakemake = globals()["snakemake"]
run_training_script(snakemake, run_unified, categories=snakemake.params.categories)
