# Score configured image sets with trained models (`predict:` in the config); its own target:
# `snakemake predict`. Input functions and checks: iadbench.config.predict; scoring: iadbench.serve.predict.
from iadbench.config.predict import predict_sets, rule_inputs, train_hashes

PREDICT_SETS = list(predict_sets(config))


localrules:
    predict,


rule predict:
    input:
        expand("results/predict/{name}/index.html", name=PREDICT_SETS),
        expand("results/predict/{name}/predictions.parquet", name=PREDICT_SETS),


rule predict_set:
    input:
        unpack(lambda wildcards: rule_inputs(config, wildcards.name)),
        template=str(TEMPLATE_DIR / "predict.html.j2"),
    output:
        predictions="results/predict/{name}/predictions.parquet",
        overlays=directory("results/predict/{name}/overlays"),
        html="results/predict/{name}/index.html",
    wildcard_constraints:
        name=r"[A-Za-z0-9_\-]+",
    params:
        entry=lambda wildcards: config["predict"][wildcards.name],
        # The models' training settings: a retrained or reconfigured job reruns the set.
        train_hashes=lambda wildcards: train_hashes(config, wildcards.name),
        asset_dir=ASSET_DIR,
    log:
        "results/logs/predict/{name}.log",
    benchmark:
        "results/benchmarks/predict/{name}.tsv"
    threads: 2
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/predict.py"
