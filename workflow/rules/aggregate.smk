localrules:
    aggregate,


rule aggregate:
    input:
        all_rows,
    output:
        "results/benchmark.parquet",
    log:
        "results/logs/aggregate.log",
    benchmark:
        "results/benchmarks/aggregate.tsv"
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/aggregate.py"
