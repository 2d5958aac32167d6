# The continual setting (`continual:` in the config; iadbench.config.continual): per sequence x model x seed x
# strategy, one training job per step (naive/accumulate: step t reads step t-1's checkpoint; joint: none)
# and one evaluation job per step and category seen by then, with the main benchmark's evaluation code.
# No `continual:` section (or no sequence): no job, no output.
include: "continual_common.smk"


localrules:
    continual,
    continual_matrix,
    continual_summary,
    continual_report,


rule continual:
    input:
        CONTINUAL_OUTPUTS,


rule continual_train:
    input:
        unpack(continual_train_input),
    output:
        checkpoint=f"results/continual/train/{STEP_PATH}/model.ckpt",
        info=f"results/continual/train/{STEP_PATH}/train_info.json",
        predictions=directory(f"results/continual/train/{STEP_PATH}/predictions"),
    params:
        dataset_spec=lambda wildcards: dataset_source(
            config["datasets"][CONTINUAL_SEQUENCES[wildcards.sequence].dataset]
        ),
        model_spec=lambda wildcards: config["models"][wildcards.model],
        image_size=lambda wildcards: model_image_size(config, wildcards.model),
        weights=config["weights"],
        asset_dir=ASSET_DIR,
        continual=continual_step_fields,
        config_hash=step_config_hash,
        retry_round=continual_retry_round("train"),
        final_attempt=RETRIES + 1,
    log:
        f"results/logs/continual_train/{STEP_PATH}.log",
    benchmark:
        f"results/benchmarks/continual_train/{STEP_PATH}.tsv"
    threads: TRAIN_THREADS
    retries: RETRIES
    resources:
        gpu=TRAIN_GPUS,
        gpu_slots=GPU_SLOTS or 0,
        mem_mb=lambda wildcards, attempt: train_mem_mb(wildcards.model, attempt),
        runtime=lambda wildcards, attempt: train_runtime_minutes(wildcards.model, attempt),
        attempt=lambda wildcards, attempt: attempt,
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/continual_train.py"


rule continual_evaluate:
    input:
        predictions=rules.continual_train.output.predictions,
        info=rules.continual_train.output.info,
    output:
        row=f"results/continual/evaluate/{STEP_PATH}/{{category}}/row.parquet",
        scores=f"results/continual/evaluate/{STEP_PATH}/{{category}}/scores.parquet",
        bootstrap=f"results/continual/evaluate/{STEP_PATH}/{{category}}/bootstrap.npz",
    params:
        dataset=lambda wildcards: CONTINUAL_SEQUENCES[wildcards.sequence].dataset,
        evaluation=config["evaluation"],
        config_hash=evaluation_config_hash,
        train_config_hash=step_config_hash,
        retry_round=continual_retry_round("evaluate"),
        final_attempt=RETRIES + 1,
    log:
        f"results/logs/continual_evaluate/{STEP_PATH}/{{category}}.log",
    benchmark:
        f"results/benchmarks/continual_evaluate/{STEP_PATH}/{{category}}.tsv"
    retries: RETRIES
    resources:
        mem_mb=lambda wildcards, input, attempt: evaluation_mem_mb(
            f"{input.predictions}/{wildcards.category}.npz", config["evaluation"]["resolution"], attempt
        ),
        attempt=lambda wildcards, attempt: attempt,
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/continual_evaluate.py"


rule continual_matrix:
    input:
        [f"results/continual/evaluate/{job.path}/row.parquet" for job in CONTINUAL_EVALUATIONS],
    output:
        matrix="results/continual/matrix.parquet",
        categories="results/continual/category_matrix.parquet",
    params:
        tasks={name: [list(task) for task in sequence.tasks] for name, sequence in CONTINUAL_SEQUENCES.items()},
    log:
        "results/logs/continual_matrix.log",
    benchmark:
        "results/benchmarks/continual_matrix.tsv"
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/continual_matrix.py"


rule continual_summary:
    input:
        "results/continual/matrix.parquet",
    output:
        "results/continual/summary.parquet",
    log:
        "results/logs/continual_summary.log",
    benchmark:
        "results/benchmarks/continual_summary.tsv"
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/continual_summary.py"


rule continual_report:
    input:
        matrix="results/continual/matrix.parquet",
        summary="results/continual/summary.parquet",
        templates=str(TEMPLATE_DIR),
    output:
        html=report("results/report/continual.html", category="Continual"),
        tex=report("results/report/continual.tex", category="Continual"),
    params:
        title=lambda wildcards: config["report"]["title"],
        weights=config["weights"],
    log:
        "results/logs/continual_report.log",
    benchmark:
        "results/benchmarks/continual_report.tsv"
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/continual_report.py"
