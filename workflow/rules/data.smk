rule prepare_data:
    output:
        directory("resources/datasets/{dataset}/{category}"),
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
    log:
        "results/logs/prepare_data/{dataset}/{category}.log",
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/prepare_data.py"
