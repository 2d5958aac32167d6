localrules:
    aggregate,


rule aggregate:
    input:
        all_rows,
    output:
        "results/benchmark.parquet",
    log:
        "results/logs/aggregate.log",
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/aggregate.py"
