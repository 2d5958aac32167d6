# One thread per training job (torch's intra-op threads), the same in every training rule (continual step 1
# must equal its standalone job): a job spends most of its seconds starting Python and importing torch and
# anomalib, on one core, so two jobs side by side on 2 cores finish sooner than one job on both.
TRAIN_THREADS = 1


rule train:
    input:
        data="resources/datasets/{dataset}/{category}",
        assets=asset_manifest,
    output:
        checkpoint=f"results/train/{JOB_PATH}/model.ckpt",
        predictions=f"results/train/{JOB_PATH}/predictions.npz",
        info=f"results/train/{JOB_PATH}/train_info.json",
    # unified models are trained by train_unified (category _all)
    wildcard_constraints:
        setting=PER_CATEGORY_SETTING,
        category=REAL_CATEGORY,
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
    threads: TRAIN_THREADS
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


# The unified setting: one model per dataset x model x seed on the defect-free images of every configured
# category, predicting each category's test set into predictions/<category>.npz (+ .json, its record);
# one evaluate job per category reads it. Memory and time scale with the training set (the categories).
UNIFIED_PATH = "unified/{dataset}/_all/{model}/{seed}"  # _all: iadbench.config.settings.ALL_CATEGORIES


rule train_unified:
    input:
        data=lambda wildcards: [f"resources/datasets/{wildcards.dataset}/{category}"
                                for category in unified_categories(wildcards)],
        assets=asset_manifest,
    output:
        checkpoint=f"results/train/{UNIFIED_PATH}/model.ckpt",
        info=f"results/train/{UNIFIED_PATH}/train_info.json",
        predictions=directory(f"results/train/{UNIFIED_PATH}/predictions"),
    params:
        dataset_spec=lambda wildcards: dataset_source(config["datasets"][wildcards.dataset]),
        model_spec=lambda wildcards: config["models"][wildcards.model],
        image_size=lambda wildcards: model_image_size(config, wildcards.model),
        weights=config["weights"],
        asset_dir=ASSET_DIR,
        categories=unified_categories,
        config_hash=lambda wildcards: config_hash(train_config(config, Job(
            wildcards.dataset, ALL_CATEGORIES, wildcards.model, int(wildcards.seed), "unified"))),
        retry_round=lambda wildcards: retry_round(
            Path("results/train/unified", wildcards.dataset, ALL_CATEGORIES, wildcards.model, wildcards.seed),
            config["retry_failed"], config["max_attempts"]),
        final_attempt=RETRIES + 1,
    log:
        f"results/logs/train/{UNIFIED_PATH}.log",
    benchmark:
        f"results/benchmarks/train/{UNIFIED_PATH}.tsv"
    threads: TRAIN_THREADS
    retries: RETRIES
    resources:
        gpu=TRAIN_GPUS,
        gpu_slots=GPU_SLOTS or 0,
        mem_mb=lambda wildcards, attempt: train_mem_mb(wildcards.model, attempt, len(unified_categories(wildcards))),
        runtime=lambda wildcards, attempt: train_runtime_minutes(
            wildcards.model, attempt, len(unified_categories(wildcards))),
        attempt=lambda wildcards, attempt: attempt,
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/train_unified.py"
