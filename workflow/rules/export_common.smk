# Input functions of export.smk and publish.smk: the jobs they act on are known once
# results/benchmark.parquet is (the select_jobs checkpoint writes results/selected_jobs.json).


def selected_jobs(kind):
    """Jobs `kind` (`export` or `publish`) selects: known once results/benchmark.parquet is (a checkpoint)."""
    import json

    with open(checkpoints.select_jobs.get().output[0]) as handle:
        return [Job(**entry) for entry in json.load(handle)[kind]]


def export_rows(wildcards):
    return [f"results/export/{job.path}/row.parquet"
            for job in selected_jobs("export")]


def published_inputs(wildcards):
    """Each published job's training outputs, its row, and its export record when the job is exported."""
    exported = set(selected_jobs("export"))
    paths = []
    for job in selected_jobs("publish"):
        paths += [f"results/train/{job.path}/{name}" for name in ("model.ckpt", "predictions.npz", "train_info.json")]
        paths.append(f"results/evaluate/{job.path}/row.parquet")
        if job in exported:
            paths.append(f"results/export/{job.path}/export.json")
    return paths
