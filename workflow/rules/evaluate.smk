rule evaluate:
    input:
        predictions=rules.train.output.predictions,
        info=rules.train.output.info,
    output:
        f"results/evaluate/{JOB_PATH}/row.parquet",
    params:
        evaluation=config["evaluation"],
        config_hash=job_config_hash,
    log:
        f"results/logs/evaluate/{JOB_PATH}.log",
    resources:
        mem_mb=4000,
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/evaluate.py"
