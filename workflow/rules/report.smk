localrules:
    report,


rule report:
    input:
        benchmark="results/benchmark.parquet",
        templates="report/templates",
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
