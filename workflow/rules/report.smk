localrules:
    report,


rule gallery:
    input:
        unpack(training_inputs),
    output:
        f"results/gallery/{JOB_PATH}.png",
    log:
        f"results/logs/gallery/{JOB_PATH}.log",
    benchmark:
        f"results/benchmarks/gallery/{JOB_PATH}.tsv"
    params:
        files=training_files_of,
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/gallery.py"


rule report:
    input:
        benchmark="results/benchmark.parquet",
        templates=str(TEMPLATE_DIR),
        galleries=all_galleries,
        references=config["report"]["references"],
        benchmarks=job_benchmarks,
        scores=all_scores,
        bootstraps=all_bootstraps,
        predictions=video_predictions,
    # Beside paper.tex the job writes paper.pdf when pdflatex is on PATH: not declared, since whether it
    # exists depends on the machine (a failed compile is logged and leaves none; the report stands).
    output:
        html=report("results/report/index.html", category="Report"),
        tex=report("results/report/tables.tex", category="Report"),
        tables=directory("results/report/tables"),
        figures=directory("results/report/figures"),
        paper="results/report/paper.tex",
    params:
        # A function: Snakemake formats plain param strings with the wildcards, and a title with
        # braces ("MVTec {AD}") would stop the run with a WildcardError.
        title=lambda wildcards: config["report"]["title"],
        config=config,
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        "../../envs/iadbench.yaml"
    script:
        "../scripts/report.py"
