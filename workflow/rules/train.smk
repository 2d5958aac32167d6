rule train:
    input:
        data="resources/datasets/{dataset}/{category}",
        assets=asset_manifest,
    output:
        checkpoint=f"results/train/{JOB_PATH}/model.ckpt",
        predictions=f"results/train/{JOB_PATH}/predictions.npz",
        info=f"results/train/{JOB_PATH}/train_info.json",
    params:
        dataset_spec=lambda wildcards: dataset_source(config["datasets"][wildcards.dataset]),
        model_spec=lambda wildcards: config["models"][wildcards.model],
        image_size=lambda wildcards: model_image_size(config, wildcards.model),
        weights=config["weights"],
        # Which images calibrate the operating point (held out of training): part of the training.
        operating_point=lambda wildcards: holdout_settings(config),
        asset_dir=ASSET_DIR,
        config_hash=train_config_hash,
        retry_round=retry_round_of("train"),
        final_attempt=RETRIES + 1,
    log:
        f"results/logs/train/{JOB_PATH}.log",
    benchmark:
        f"results/benchmarks/train/{JOB_PATH}.tsv"
    threads: 2
    retries: RETRIES
    resources:
        gpu=TRAIN_GPUS,
        # How many GPU slots the run has, to pick a free device. A resource, not a param: params are
        # the job's science (a rerun trigger), and a run with another GPU count must not retrain.
        gpu_slots=GPU_SLOTS or 0,
        mem_mb=lambda wildcards, attempt: train_mem_mb(wildcards.model, attempt),
        runtime=lambda wildcards, attempt: train_runtime_minutes(wildcards.model, attempt),
        attempt=lambda wildcards, attempt: attempt,
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/train.py"
