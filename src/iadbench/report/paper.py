"""Paper-ready output: every report table as a grid rendered to its own LaTeX file (to ``\\input``), CSV and
Markdown, and ``paper.tex``, a full document of every table and figure, compiled with pdflatex where it is
installed.

The renderers are pure (a grid in, text out); :func:`compile_pdf` is the one function here that runs a
program and writes a file, called by :func:`iadbench.report.render.build_report`.
"""

from __future__ import annotations

import csv
import io
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from iadbench.core.files import atomic_write
from iadbench.report.templating import RawLatex, slug

log = logging.getLogger(__name__)

# A table wider than the text is scaled down to it, a narrower one keeps its size (graphicx evaluates
# \width, the box's natural width, inside \resizebox's arguments; adjustbox's `max width` is not in
# texlive-latex-recommended).
SCALE_TO_LINEWIDTH = r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%"
# Floats in a row before a \clearpage: LaTeX holds at most 18 unplaced floats ("Too many unprocessed floats").
FLOATS_PER_PAGE_BREAK = 8
PDFLATEX_TIMEOUT_S = 300


@dataclass
class GridCell:
    text: str
    bold: bool = False
    dagger: bool = False  # † after the text (pixel metrics of constant anomaly maps)
    mark: bool = False  # ‡ after the text: not significantly worse than its column's best

    @property
    def plain(self) -> str:
        return self.text + ("†" if self.dagger else "") + ("‡" if self.mark else "")


@dataclass
class Grid:
    """One table as rows of cells, whatever its kind: what the LaTeX, CSV and Markdown writers read."""

    name: str  # file stem under tables/, and the LaTeX label tab:<name> (letters, digits, dashes)
    caption: str
    header: list[str]
    rows: list[list[GridCell]]
    align: list[str] = field(default_factory=list)  # LaTeX column types; default: l, then r
    notes: list[str] = field(default_factory=list)  # printed under the table
    long: bool = False  # a longtable (may span pages; never scaled: kept narrow instead)
    groups: set[int] = field(default_factory=set)  # rows preceded by a \midrule (a new model)
    font: str = "small"  # LaTeX size of a long table (it is never scaled)
    # Titles spanning columns above the header, (title, span), "" for none: e.g. a metric over (study, ours).
    spans: list[tuple[str, int]] = field(default_factory=list)

    @property
    def flat_header(self) -> list[str]:
        """The header with each spanning title prefixed (CSV and Markdown have a single header row)."""
        if not self.spans:
            return self.header
        prefixes = [title for title, span in self.spans for _ in range(span)]
        return [f"{prefix} {text}".strip() for prefix, text in zip(prefixes, self.header, strict=True)]

    @property
    def span_rules(self) -> list[tuple[int, int]]:
        """(first, last) column numbers (1-based) under each non-empty spanning title."""
        rules, start = [], 1
        for title, span in self.spans:
            if title:
                rules.append((start, start + span - 1))
            start += span
        return rules

    @property
    def columns(self) -> list[str]:
        return self.align or ["l"] + ["r"] * (len(self.header) - 1)


def cells(texts, bold=None) -> list[GridCell]:
    return [GridCell(text, bold=bool(bold and bold[index])) for index, text in enumerate(texts)]


# The report's tables as grids ---------------------------------------------------------------------------


def metric_grid(table, caption_suffix: str, notes: list[str]) -> Grid:
    """A methods × categories table (:class:`iadbench.report.render.Table`) of one metric."""
    rows = [[GridCell(table.names.get(model, model))]
            + [GridCell(cell.text, bold=cell.bold, dagger=cell.degenerate, mark=cell.not_worse) for cell in row]
            for model, row in table.rows]
    return Grid(name=table.label, caption=f"{table.dataset}: {table.title} in percent{caption_suffix}",
                header=["Method", *table.header], rows=rows, notes=notes)


def rank_grid(metrics: list[str], titles: dict[str, str], rows, comparisons, names: dict[str, str]) -> Grid:
    """Average ranks per method and ranked metric, with the categories, Friedman p and CD of each."""
    body = [[GridCell(names.get(model, model)), *map(GridCell, ranks)] for model, ranks in rows]
    body.append([GridCell("categories"), *(GridCell(str(comparisons[m].n_categories)) for m in metrics)])
    body.append([GridCell("Friedman p"), *(GridCell(f"{comparisons[m].friedman_p_value:.3g}") for m in metrics)])
    body.append([GridCell("CD"), *(GridCell(f"{comparisons[m].critical_difference:.2f}") for m in metrics)])
    return Grid(name="ranks", caption="Average ranks over the categories where every method has a complete value "
                "(1 = best); Friedman test, Nemenyi critical difference (CD, α = 0.05).",
                header=["Method", *(titles[metric] for metric in metrics)], rows=body,
                groups={len(rows)} if rows else set(),
                notes=[f"{titles[metric]}: {comparisons[metric].verdict()}" for metric in metrics])


def hardest_grid(dataset: str, items: list[dict], note: str) -> Grid:
    """The hardest test images of each category of ``dataset`` (:func:`iadbench.report.render.score_distributions`'
    items), one long table."""
    header = ["Category", "Kind", "Image", "Method", "Seed", "Score", "Threshold", "Wrong side of"]
    rows, groups = [], set()
    for item in items:
        if rows:
            groups.add(len(rows))
        rows += [[GridCell(item["category"]), *(GridCell(row[key]) for key in
                                                 ("kind", "image", "model", "seed", "score", "threshold", "share"))]
                 for row in item["hardest"]]
    return Grid(name=f"hardest-images-{slug(dataset)}",
                caption=f"{dataset}: hardest test images per category.", header=header, rows=rows,
                align=["l", "l", "l", "l", "r", "r", "r", "r"], notes=[note], long=True, groups=groups,
                font="footnotesize")


def reproduction_grid(table, note: str) -> Grid:
    """A :class:`iadbench.report.reproduction.ReproductionTable`: every row names its model (CSV rows stand alone)."""
    beside = [table.beside_title] if table.beside_title else []
    header = ["Method", "Category", "Ours", *beside, *["value", "Δ"] * len(table.kinds)]
    spans = [("", 3 + len(beside)), *((title, 2) for title in table.kind_titles)]
    rows, groups = [], set()
    for index, row in enumerate(table.rows):
        if row.first and index:
            groups.add(index)
        line = [GridCell(row.model), GridCell(row.category), GridCell(row.ours), *(GridCell(row.beside) for _ in beside)]
        for comparison in row.comparisons:
            line += [GridCell(comparison.value), GridCell(comparison.delta, bold=comparison.flagged)]
        rows.append(line)
    return Grid(name=table.label, caption=f"{table.title} (percent).", header=header, rows=rows,
                align=["l", "l"] + ["r"] * (len(header) - 2), notes=[note, *table.sources], long=True,
                groups=groups, spans=spans)


def audit_grid(audit, note: str) -> Grid:
    """A :class:`iadbench.report.reproduction.AuditTable`: the study's cells that need a word, ours beside."""
    header = ["Method", "Category", *["study", "ours"] * len(audit.metrics), "Reason"]
    spans = [("", 2), *((title, 2) for title in audit.metric_titles), ("", 1)]
    rows = [[GridCell(row["model"]), GridCell(row["category"]),
             *(GridCell(text) for pair in zip(row["study"], row["ours"], strict=True) for text in pair),
             GridCell(row["reason"])] for row in audit.rows]
    return Grid(name=audit.label, caption="Study audit: the study's cells that need a word (threshold-saturated PRO, "
                "degenerate scores), ours beside (percent).", header=header, rows=rows,
                align=["l", "l"] + ["r"] * (2 * len(audit.metrics)) + [r"p{0.25\linewidth}"], notes=[note],
                long=True, font="footnotesize", spans=spans)


# Writers ---------------------------------------------------------------------------------------------------


def csv_text(grid: Grid) -> str:
    """The header and rows, cell text only († kept); bold is lost."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(grid.flat_header)
    writer.writerows([cell.plain for cell in row] for row in grid.rows)
    return buffer.getvalue()


def _markdown_cell(text: str, bold: bool = False) -> str:
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("\n", " ")
    return f"**{text}**" if bold and text else text


def markdown_text(grid: Grid) -> str:
    """A GitHub-flavoured Markdown table under its caption, bold kept, notes after it."""
    align = ["---:" if column == "r" else ":---" for column in grid.columns]
    lines = [f"**{_markdown_cell(grid.caption)}**", "",
             "| " + " | ".join(_markdown_cell(text) for text in grid.flat_header) + " |",
             "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_markdown_cell(cell.plain, cell.bold) for cell in row) + " |" for row in grid.rows]
    if grid.notes:
        lines += ["", *(_markdown_cell(note) for note in grid.notes)]
    return "\n".join(lines) + "\n"


def latex_table(grid: Grid, environment: jinja2.Environment) -> str:
    """The table's LaTeX, to \\input: a float scaled down only when wider than the text, or a longtable."""
    return environment.get_template("table.tex.j2").render(grid=grid, scale=RawLatex(SCALE_TO_LINEWIDTH))


def paper_document(environment: jinja2.Environment, title: str, grids: list[Grid], figures: list[dict[str, str]],
                   notes: list[str]) -> str:
    """``paper.tex``: a full document that inputs every table (``tables/<name>.tex``) and includes every
    figure (``figures/<name>.png``)."""
    return environment.get_template("paper.tex.j2").render(
        title=title, grids=grids, figures=figures, notes=notes, floats_per_break=FLOATS_PER_PAGE_BREAK)


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def compile_pdf(tex_path: str | Path, timeout_s: float = PDFLATEX_TIMEOUT_S) -> Path | None:
    """Compile ``paper.tex`` (with the ``tables/`` and ``figures/`` beside it) to ``paper.pdf`` beside it.

    Runs pdflatex twice (cross-references) in a temporary copy, so that a failed run leaves nothing
    half-written. Returns the PDF, or None when pdflatex is not installed or the compile fails: a failure
    is logged with the tail of LaTeX's log and leaves no ``paper.pdf`` (an older one is removed), but is
    never an error: the report stands without the PDF.
    """
    tex_path = Path(tex_path)
    pdf_path = tex_path.with_suffix(".pdf")
    pdf_path.unlink(missing_ok=True)
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        log.info("pdflatex not on PATH: %s not compiled", tex_path)
        return None
    with tempfile.TemporaryDirectory(prefix="iadbench-paper-") as scratch:
        work = Path(scratch)
        shutil.copy(tex_path, work / tex_path.name)
        for folder in ("tables", "figures"):
            if (tex_path.parent / folder).is_dir():
                shutil.copytree(tex_path.parent / folder, work / folder)
        command = [pdflatex, "-interaction=nonstopmode", "-halt-on-error", tex_path.name]
        for _ in range(2):
            try:
                result = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=timeout_s,
                                        check=False)
            except subprocess.TimeoutExpired:
                log.warning("pdflatex timed out after %s s on %s; no PDF. Log tail:\n%s", timeout_s, tex_path,
                            _log_tail(work / tex_path.with_suffix(".log").name))
                return None
            if result.returncode != 0:
                log.warning("pdflatex failed (exit %s) on %s; no PDF. Log tail:\n%s", result.returncode, tex_path,
                            _log_tail(work / tex_path.with_suffix(".log").name))
                return None
        atomic_write(pdf_path, lambda temporary: shutil.copyfile(work / pdf_path.name, temporary))
    return pdf_path
