# Folders for the Hugging Face Hub (iadbench.serve.publish): results/publish/dataset (the results and their card)
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


rule publish:
    input:
        benchmark="results/benchmark.parquet",
        selection="results/selected_jobs.json",
        templates=[str(TEMPLATE_DIR / "model_card.md.j2"), str(TEMPLATE_DIR / "dataset_card.md.j2")],
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
