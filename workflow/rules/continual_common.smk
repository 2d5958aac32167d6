# The continual setting's jobs and input functions (iadbench.config.continual); rules: continual.smk.
from iadbench.config.continual import (
    accumulate_kind,
    continual_models,
    evaluation_jobs,
    sequences,
    step_config,
    step_jobs,
    strategies_of,
    StepJob,
)

CONTINUAL_SEQUENCES = sequences(config)
CONTINUAL_STEPS = step_jobs(config)
CONTINUAL_EVALUATIONS = evaluation_jobs(config)
STEP_PATH = "{sequence}/{model}/{seed}/{strategy}/step{step}"
# Which bank `accumulate` keeps, per model that uses it: patchcore or padim (by class, not by config name).
ACCUMULATE_KINDS = {
    model: accumulate_kind(config, model)
    for model in continual_models(config)
    if "accumulate" in strategies_of(config, model)
}
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
    """The `continual` argument of iadbench.run.train.train_job (iadbench.run.continual_step.ContinualStep)."""
    job = step_of(wildcards)
    sequence = CONTINUAL_SEQUENCES[job.sequence]
    chained = job.strategy != "joint" and job.step > 1
    return {"step": job.step, "strategy": job.strategy,
            "train_categories": sequence.training_categories(job.step, job.strategy),
            "seen_categories": sequence.seen(job.step),
            "previous_dir": step_dir("train", job._replace(step=job.step - 1)) if chained else None,
            "accumulate": ACCUMULATE_KINDS[job.model] if job.strategy == "accumulate" else None}


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
