"""The report's "Job resources": each rule's jobs, wall time and peak memory from Snakemake's ``benchmark:``
files (a reader: a missing or unreadable file is skipped, never an error)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from iadbench.results.columns import NOT_APPLICABLE

JOB_RESOURCE_COLUMNS = ("rule", "jobs", "total_s", "max_s", "max_rss_mb")


def _rule_of_benchmark(path: Path) -> str:
    """``results/benchmarks/<rule>/<wildcards>.tsv`` (or ``<rule>.tsv`` for a rule without wildcards)."""
    parts = path.parts
    if "benchmarks" in parts[:-1]:
        after = len(parts) - parts[::-1].index("benchmarks")
        return Path(parts[after]).stem
    return path.parent.name


def job_resources(paths) -> pd.DataFrame:
    """Per rule, from Snakemake's ``benchmark:`` TSVs (one per job): jobs, total and largest wall time in
    seconds (``s``), largest ``max_rss`` in MB; rules in order of first appearance.

    A file that is missing, unreadable or has no ``s`` column is skipped: the summary is a side note and
    never stops the report. ``max_rss`` is NaN where Snakemake could not sample it (``NA``: a job shorter
    than its sampling interval).
    """
    per_job = []
    for path in map(Path, paths):
        try:
            table = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
        except (OSError, ValueError):  # pandas' parser and empty-data errors are ValueErrors
            continue
        if "s" not in table or table.empty:
            continue
        wall = pd.to_numeric(table["s"], errors="coerce")
        rss = pd.to_numeric(table.get("max_rss", pd.Series(dtype=float)), errors="coerce")
        if wall.isna().all():
            continue
        # Several lines: `repeat()` runs of one job; the job counts once, at its mean time.
        per_job.append({"rule": _rule_of_benchmark(path), "s": float(wall.mean()), "max_rss_mb": rss.max()})
    if not per_job:
        return pd.DataFrame(columns=list(JOB_RESOURCE_COLUMNS))
    grouped = pd.DataFrame(per_job).groupby("rule", sort=False)
    summary = grouped.agg(jobs=("s", "size"), total_s=("s", "sum"), max_s=("s", "max"),
                          max_rss_mb=("max_rss_mb", "max"))
    return summary.reset_index()[list(JOB_RESOURCE_COLUMNS)]


def job_resource_rows(resources: pd.DataFrame) -> list[dict[str, str]]:
    """The "Job resources" table's cells as text; an unknown RSS is "–"."""
    return [{"rule": str(row.rule), "jobs": str(int(row.jobs)), "total_s": f"{row.total_s:.1f}",
             "max_s": f"{row.max_s:.1f}",
             "max_rss_mb": NOT_APPLICABLE if pd.isna(row.max_rss_mb) else f"{row.max_rss_mb:.0f}"}
            for row in resources.itertuples(index=False)]
