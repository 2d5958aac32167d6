# Inference cost of each trained model, timed in its own job (iadbench.run.timing): the torch model alone, on
# synthetic inputs at its input size, at batch 1 and `timing.batch`. Never fails for the model's sake (NaN
# columns and a timing_error instead); evaluation merges a model's record into its rows.
# Once per dataset x category x model, on the first seed's checkpoint: the seeds share the architecture and
# input size, so every seed's row carries that record (`timing_seed` names the seed timed).
# Alone: all the run's cores (no other local job fits beside it) and the `timing` resource (profiles/default
# caps it at 1). Under SLURM `_cores` is unset: profiles/slurm sets the threads; nodes are shared unless
# its set-resources add `slurm_extra: "--exclusive"` for timing.
# With `timing: {enabled: false}` the job only writes NaN records (why: their timing_error): one thread, not alone.
TIMING_ENABLED = config["timing"]["enabled"]
TIMING_THREADS = (global_resource("_cores") or 4) if TIMING_ENABLED else 1


rule timing:
    input:
        checkpoint=f"results/train/{MODEL_PATH}/{TIMED_SEED}/model.ckpt",
        info=f"results/train/{MODEL_PATH}/{TIMED_SEED}/train_info.json",
    output:
        f"results/timing/{MODEL_PATH}/timing.json",
    params:
        models=timing_specs,
        weights=config["weights"],
        asset_dir=ASSET_DIR,
        batch=config["timing"]["batch"],
        budget_seconds=config["timing"]["budget_seconds"],
        seed=TIMED_SEED,
        enabled=TIMING_ENABLED,
    log:
        f"results/logs/timing/{MODEL_PATH}.log",
    benchmark:
        f"results/benchmarks/timing/{MODEL_PATH}.tsv"
    threads: TIMING_THREADS
    resources:
        timing=1 if TIMING_ENABLED else 0,
        gpu=TRAIN_GPUS,
        gpu_slots=GPU_SLOTS or 0,
        mem_mb=lambda wildcards, attempt: train_mem_mb(wildcards.model, attempt),
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/timing.py"
