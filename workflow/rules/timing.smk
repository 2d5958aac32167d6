# Inference cost of each trained model, timed in its own job (iadbench.run.timing): the torch model alone, on
# synthetic inputs at its input size, at batch 1 and `timing.batch`. Never fails for the model's sake (NaN
# columns and a timing_error instead); evaluation merges timing.json into the row.
# Alone: all the run's cores (no other local job fits beside it) and the `timing` resource (profiles/default
# caps it at 1). Under SLURM `_cores` is unset: profiles/slurm sets the threads; nodes are shared unless
# its set-resources add `slurm_extra: "--exclusive"` for timing.
TIMING_THREADS = global_resource("_cores") or 4


rule timing:
    input:
        checkpoint=rules.train.output.checkpoint,
        info=rules.train.output.info,
    output:
        f"results/timing/{JOB_PATH}/timing.json",
    params:
        model_spec=lambda wildcards: config["models"][wildcards.model],
        image_size=lambda wildcards: model_image_size(config, wildcards.model),
        weights=config["weights"],
        asset_dir=ASSET_DIR,
        batch=config["timing"]["batch"],
        budget_seconds=config["timing"]["budget_seconds"],
    log:
        f"results/logs/timing/{JOB_PATH}.log",
    benchmark:
        f"results/benchmarks/timing/{JOB_PATH}.tsv"
    threads: TIMING_THREADS
    resources:
        timing=1,
        gpu=TRAIN_GPUS,
        gpu_slots=GPU_SLOTS or 0,
        mem_mb=lambda wildcards, attempt: train_mem_mb(wildcards.model, attempt),
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/timing.py"
