rule evaluate:
    input:
        # The training job's predictions and record (unified: the dataset's one training job's folder).
        unpack(training_inputs),
        timing=timing_input,
    output:
        row=f"results/evaluate/{JOB_PATH}/row.parquet",
        # One row per test image (path, label, defect type, image score, map max/mean): empty when failed.
        scores=f"results/evaluate/{JOB_PATH}/scores.parquet",
        # The metrics' bootstrap replicates (iadbench.stats.uncertainty), which the report pools over seeds;
        # evaluate_job writes it beside the row (empty when failed).
        bootstrap=f"results/evaluate/{JOB_PATH}/bootstrap.npz",
    params:
        files=training_files_of,
        evaluation=config["evaluation"],
        operating_point=config["operating_point"],
        config_hash=job_config_hash,
        train_config_hash=train_config_hash,
        retry_round=retry_round_of("evaluate"),
        final_attempt=RETRIES + 1,
    log:
        f"results/logs/evaluate/{JOB_PATH}.log",
    benchmark:
        f"results/benchmarks/evaluate/{JOB_PATH}.tsv"
    retries: RETRIES
    resources:
        # Native resolution holds every test pixel: the request grows with the category's pixel count.
        mem_mb=lambda wildcards, attempt: evaluation_mem_mb(
            training_files_of(wildcards)["predictions"], config["evaluation"]["resolution"], attempt),
        attempt=lambda wildcards, attempt: attempt,
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/evaluate.py"
