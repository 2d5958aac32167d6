"""The HTML report's pages. A small report is one page. A large one (several datasets and more metric tables
than :data:`PAGE_TABLES`) is cut so that its first page stays short: ``index.html`` holds the legend, every
dataset's summary (mean per metric with its interval, average rank, the rank test and its CD diagram) with a link
to that dataset's page, the average ranks over every dataset, the figures of the whole report, the failed jobs,
methods and provenance; ``<dataset>.html`` holds that dataset's per-category tables, heatmaps, score
distributions and anomaly maps. Every page is self-contained (figures inline, no network) and links back.
"""

from __future__ import annotations

from typing import Any

PAGE_TABLES = 16  # metric tables a one-page report may hold (the embedded default has 8)


def paged(context: dict[str, Any]) -> bool:
    return len(context["datasets"]) > 1 and len(context["tables"]) > PAGE_TABLES


def page_name(dataset: dict[str, Any]) -> str:
    return f"dataset-{dataset['id']}.html"


def _mine(items: list[dict], dataset: str | None) -> list[dict]:
    return [item for item in items if item.get("dataset") == dataset]


def split(context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """File name -> the context of that page (``{"index.html": context}`` for a one-page report). Every page's
    context has "home" ("" on the index, else its file name) and each dataset section a "page" ("" where its
    tables are on the same page, else the file name of its page)."""
    if not paged(context):
        return {"index.html": context | {"home": "", "datasets": [section | {"page": ""}
                                                                   for section in context["datasets"]]}}
    datasets = [section | {"page": page_name(section)} for section in context["datasets"]]
    names = {section["name"] for section in datasets}
    index = context | {
        "home": "", "datasets": datasets,
        "figures": [figure for figure in context["figures"] if figure.get("dataset") not in names
                    or figure.get("place") == "summary"],
        "distributions": [], "gallery": _mine(context["gallery"], None),
        "reproduction": context["reproduction"],
    }
    made = {"index.html": index}
    for section in datasets:
        name = section["name"]
        made[section["page"]] = context | {
            "title": f"{context['title']}: {name}", "home": "index.html", "datasets": [section | {"page": ""}],
            "figures": _mine(context["figures"], name), "distributions": _mine(context["distributions"], name),
            "gallery": _mine(context["gallery"], name), "rank_metrics": [], "reproduction": [], "audit": None,
            "predict_pages": [], "failed": [job for job in context["failed"] if job["dataset"] == name],
            "job_resources": [], "config_yaml": "", "video": context["video"] | {"present": False},
            "provenance": {},
        }
    return made
