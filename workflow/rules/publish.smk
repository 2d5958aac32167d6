# Folders for the Hugging Face Hub (iadbench.publish): results/publish/dataset (the results and their card)
# and results/publish/models/<dataset>-<category>-<model>-<seed> per job `publish.jobs` selects; upload them
# with `iadbench upload`. Not part of `all`.

localrules:
    select_jobs,
    publish,


checkpoint select_jobs:
    input:
        "results/benchmark.parquet",
    output:
        "results/selected_jobs.json",
    params:
        publish=config["publish"],
        export=config["export"]["jobs"],
    log:
        "results/logs/select_jobs.log",
    benchmark:
        "results/benchmarks/select_jobs.tsv"
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/select_jobs.py"


def published_inputs(wildcards):
    """Each published job's training outputs, its row, and its export record when the job is exported."""
    exported = set(selected_jobs("export"))
    paths = []
    for job in selected_jobs("publish"):
        job_path = f"{job.dataset}/{job.category}/{job.model}/{job.seed}"
        paths += [f"results/train/{job_path}/{name}" for name in ("model.ckpt", "predictions.npz", "train_info.json")]
        paths.append(f"results/evaluate/{job_path}/row.parquet")
        if job in exported:
            paths.append(f"results/export/{job_path}/export.json")
    return paths


rule publish:
    input:
        benchmark="results/benchmark.parquet",
        selection="results/selected_jobs.json",
        templates=["report/templates/model_card.md.j2", "report/templates/dataset_card.md.j2"],
        jobs=published_inputs,
    output:
        directory("results/publish"),
    log:
        "results/logs/publish.log",
    benchmark:
        "results/benchmarks/publish.tsv"
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/publish.py"
