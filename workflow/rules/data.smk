# Fetched once per dataset, on the machine running Snakemake (compute nodes often lack internet).
# params: only the keys saying where the data comes from, so editing `categories:` re-downloads nothing.
localrules:
    download_dataset,


rule download_dataset:
    output:
        "resources/datasets/{dataset}/.complete",
    params:
        spec=lambda wildcards: source_spec(config["datasets"][wildcards.dataset]),
    log:
        "results/logs/download_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/download_dataset/{dataset}.tsv"
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/download_dataset.py"


rule prepare_data:
    input:
        complete="resources/datasets/{dataset}/.complete",
    output:
        directory("resources/datasets/{dataset}/{category}"),
    params:
        spec=lambda wildcards: dataset_source(config["datasets"][wildcards.dataset]),
    log:
        "results/logs/prepare_data/{dataset}/{category}.log",
    benchmark:
        "results/benchmarks/prepare_data/{dataset}/{category}.tsv"
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/prepare_data.py"
