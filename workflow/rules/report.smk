localrules:
    report,


rule gallery:
    input:
        predictions=rules.train.output.predictions,
        info=rules.train.output.info,
    output:
        f"results/gallery/{JOB_PATH}.png",
    log:
        f"results/logs/gallery/{JOB_PATH}.log",
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/gallery.py"


rule report:
    input:
        benchmark="results/benchmark.parquet",
        templates="report/templates",
        galleries=all_galleries,
        references=config["report"]["references"],
    output:
        html=report("results/report/index.html", category="Report"),
        tex=report("results/report/tables.tex", category="Report"),
    params:
        title=config["report"]["title"],
        config=config,
    log:
        "results/logs/report.log",
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/report.py"
