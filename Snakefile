# iadbench: every dataset x category x model x seed trained and evaluated as its own job.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/assets.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/timing.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/continual.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/publish.smk"
include: "workflow/rules/predict.smk"


onstart:
    exit_if_downloads_unreachable()
    start_job_fork_servers()


onsuccess:
    stop_fork_servers()


onerror:
    stop_fork_servers()
    exit_on_missing_assets()


rule all:
    input:
        "results/benchmark.parquet",
        "results/report/index.html",
        "results/report/tables.tex",
        CONTINUAL_OUTPUTS,
