# Exported models (iadbench.serve.export): ONNX and OpenVINO per selected job, parity against the checkpoint on
# the job's test images, CPU throughput at batch 1. Jobs: `export.jobs` (default: those `publish` selects),
# read from results/selected_jobs.json (the select_jobs checkpoint in publish.smk). Not part of `all`.
include: "export_common.smk"


rule export_job:
    input:
        checkpoint=rules.train.output.checkpoint,
        predictions=rules.train.output.predictions,
        info=rules.train.output.info,
    # Beside these: model.onnx and openvino/model.xml + .bin for each format that exported (a failed one has
    # none), so they are not declared.
    output:
        record=f"results/export/{JOB_PATH}/export.json",
        row=f"results/export/{JOB_PATH}/row.parquet",
    params:
        formats=config["export"]["formats"],
        tolerance=config["export"]["tolerance"],
        repeats=config["export"]["timing_repeats"],
        asset_dir=ASSET_DIR,
        config_hash=train_config_hash,
    log:
        f"results/logs/export/{JOB_PATH}.log",
    benchmark:
        f"results/benchmarks/export/{JOB_PATH}.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: train_mem_mb(wildcards.model, attempt),
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/export.py"


rule export:
    input:
        export_rows,
    output:
        "results/export/summary.csv",
    log:
        "results/logs/export_summary.log",
    benchmark:
        "results/benchmarks/export_summary.tsv"
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/export_summary.py"
