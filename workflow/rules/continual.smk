# The continual setting (`continual:` in the config; iadbench.continual_config): per sequence x model x seed x
# strategy, one training job per step (naive/accumulate: step t reads step t-1's checkpoint; joint: none)
# and one evaluation job per step and category seen by then, with the main benchmark's evaluation code.
# No `continual:` section (or no sequence): no job, no output.
from iadbench.continual_config import evaluation_jobs, sequences, step_config, step_jobs, StepJob

CONTINUAL_SEQUENCES = sequences(config)
CONTINUAL_STEPS = step_jobs(config)
CONTINUAL_EVALUATIONS = evaluation_jobs(config)
STEP_PATH = "{sequence}/{model}/{seed}/{strategy}/step{step}"
CONTINUAL_OUTPUTS = (
    [
        "results/continual/matrix.parquet",
        "results/continual/summary.parquet",
        "results/report/continual.html",
        "results/report/continual.tex",
    ]
    if CONTINUAL_STEPS
    else []
)


wildcard_constraints:
    sequence=r"[A-Za-z0-9_\-]+",
    strategy="naive|joint|accumulate",
    step=r"\d+",


localrules:
    continual,
    continual_matrix,
    continual_summary,
    continual_report,


def step_of(wildcards):
    return StepJob(wildcards.sequence, wildcards.model, int(wildcards.seed), wildcards.strategy, int(wildcards.step))


def step_dir(stage, job):
    return f"results/continual/{stage}/{job.path}"


def continual_train_input(wildcards):
    """The data of every category the step trains on or predicts; step t-1's model (naive, accumulate)."""
    job = step_of(wildcards)
    sequence = CONTINUAL_SEQUENCES[job.sequence]
    inputs = {"data": [f"resources/datasets/{sequence.dataset}/{category}" for category in sequence.seen(job.step)],
              "assets": asset_manifests([job.model])}
    if job.strategy != "joint" and job.step > 1:
        previous = step_dir("train", job._replace(step=job.step - 1))
        inputs.update(previous_checkpoint=f"{previous}/model.ckpt", previous_info=f"{previous}/train_info.json")
    return inputs


def continual_step_fields(wildcards):
    """The `continual` argument of iadbench.train.train_job (iadbench.continual.ContinualStep)."""
    job = step_of(wildcards)
    sequence = CONTINUAL_SEQUENCES[job.sequence]
    chained = job.strategy != "joint" and job.step > 1
    return {"step": job.step, "strategy": job.strategy,
            "train_categories": sequence.training_categories(job.step, job.strategy),
            "seen_categories": sequence.seen(job.step),
            "previous_dir": step_dir("train", job._replace(step=job.step - 1)) if chained else None,
            "accumulate": wildcards.model if job.strategy == "accumulate" else None}


def step_config_hash(wildcards):
    return config_hash(step_config(config, step_of(wildcards)))


def evaluation_config_hash(wildcards):
    return config_hash({**step_config(config, step_of(wildcards)), "category": wildcards.category,
                        "evaluation": config["evaluation"]})


def continual_retry_round(stage):
    def round_of(wildcards):
        path = step_dir(stage, step_of(wildcards))
        if stage == "evaluate":
            path = f"{path}/{wildcards.category}"
        return retry_round(Path(path), config["retry_failed"], config["max_attempts"])

    return round_of


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
    threads: 2
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
        templates="report/templates",
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
