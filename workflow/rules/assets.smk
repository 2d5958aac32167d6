# Pretrained weights and auxiliary data (DTD, ImageNette, ...) fetched once, on the machine running
# Snakemake: compute nodes often lack internet, and training jobs never download (they read the cache).
localrules:
    fetch_assets,
    assets,


rule fetch_assets:
    output:
        f"{ASSET_DIR}/manifests/{{model}}.json",
    params:
        model_spec=lambda wildcards: config["models"][wildcards.model],
        image_size=lambda wildcards: model_image_size(config, wildcards.model),
        mirror=config["assets"]["mirror"],
    log:  # beside it, {model}.missing.json: assets that could not be reached (the run's summary reads it)
        "results/logs/fetch_assets/{model}.log",
    benchmark:
        "results/benchmarks/fetch_assets/{model}.tsv"
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/fetch_assets.py"


rule assets:
    input:
        all_asset_manifests,
