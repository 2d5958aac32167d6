"""The report's one legend and its Methods section, in words: what the marks of the tables mean, what the
hover intervals are and which tests decide them, with the references. Kept here, in one place, so that a change
of method (how intervals or p-values are computed) changes one text; no module or function names: readers
read methods, not code.
"""

from __future__ import annotations

from collections import Counter

from iadbench.report.tables import Table

# (mark as printed, what it means): the legend's symbols, in the order a reader meets them in a table.
SYMBOLS: tuple[tuple[str, str], ...] = (
    ("bold", "best value in its column (every value tied with it at the printed precision is bold too)."),
    ("‡", "not significantly worse than the column's best on the same test images (see Tests below)."),
    ("†", "the model produced constant anomaly maps in at least one seed: its pixel metrics are meaningless."),
    ("–", "not applicable (e.g. pixel metrics of a classification-only model) or undefined."),
    ("(k/n seeds)", ("partial: only k of the n seeds of that cell succeeded; the value is the mean over the "
                    "survivors, so it is never bold, never tested, and left out of means and ranks.")),
    ("failed", "every seed of that cell failed; the link leads to the training log."),
)

TEXTS: dict[str, str] = {
    "values": ("Values are percentages: mean over seeds, ± the standard deviation over seeds when there are "
               "several. A cell is complete when every one of its seeds succeeded; bold, the Mean column, the "
               "summaries and the average ranks use complete cells only."),
    "intervals": ("Hover a cell for its 95% confidence interval: a bootstrap over the test images (defect-free and "
                  "defective images resampled separately), read on the logit scale with a Wilson-type floor, so it "
                  "keeps its level near 100. With several seeds the seeds' resamples are pooled, each seed weighing "
                  "the same. A run without stored resamples shows no interval."),
    "tests": ("In each category column every complete cell is compared with the best one on the same test images: "
              "image AUROC by DeLong's test, image F1-max by a jackknife test, image AP by a studentized paired "
              "bootstrap over the same resamples, all one-sided and read on Student's t with n - 2 degrees of "
              "freedom (n test images); pixel metrics by a paired leave-one-image-out jackknife, read on Student's t "
              "with the jackknife variance's Satterthwaite degrees of freedom (evaluation outputs written before "
              "the jackknife values were kept: the paired bootstrap, noted under the table); with several seeds "
              "each seed is tested on its "
              "own and the largest p is kept. Each p is multiplied by its column's number of comparisons (the best "
              "is picked from the data), then a table's p-values are corrected together by Benjamini-Hochberg at "
              "α = 0.05, opened only when the smallest passes Bonferroni over the table. A cell neither bold nor ‡ "
              "is declared worse: in a table with no difference anywhere, some cell is declared worse in at most "
              "5% of tables; otherwise at most 5% of the cells declared worse are expected to be, in truth, as "
              "good as the best (false discovery rate). A ‡ says \"not shown to be worse\", never \"as good\": at "
              "40 + 80 test images a gap below ~0.08 is rarely resolved in a 15 × 15 table. The Mean column is "
              "not tested: methods are ranked instead (Friedman test, then Nemenyi's critical difference)."),
    "ap": "AP is step-wise average precision (scikit-learn's definition), not a trapezoid.",
}

# (method, how the report uses it, reference): the Methods section.
METHODS: tuple[tuple[str, str, str], ...] = (
    ("Bootstrap confidence intervals",
     ("95% logit intervals over stratified resamples of the test images (add-half correction, Wilson-type floor); "
      "seeds pooled with equal weight."),
     "B. Efron and R. J. Tibshirani, An Introduction to the Bootstrap, Chapman & Hall, 1993."),
    ("DeLong's test",
     "One-sided test of two correlated image AUROCs measured on the same test images.",
     ("E. R. DeLong, D. M. DeLong and D. L. Clarke-Pearson, Comparing the areas under two or more correlated "
     "receiver operating characteristic curves: a nonparametric approach, Biometrics 44(3), 837–845, 1988.")),
    ("Jackknife test (image F1-max, pixel metrics)",
     ("One-sided; the difference over its leave-one-image-out standard error (F1-max is a maximum over "
      "thresholds, which the bootstrap reproduces poorly; the jackknife variance errs on the large side). Pixel "
      "metrics: read on Student's t with Satterthwaite's degrees of freedom of the jackknife variance, since a few "
      "images with large defects carry most of it."),
     "B. Efron and C. Stein, The jackknife estimate of variance, The Annals of Statistics 9(3), 586–596, 1981."),
    ("Paired bootstrap test",
     "One-sided; the difference on all test images over the standard deviation of the paired resampled differences.",
     "B. Efron and R. J. Tibshirani, An Introduction to the Bootstrap, Chapman & Hall, 1993."),
    ("Benjamini-Hochberg correction",
     ("Each p multiplied by its column's comparisons, then one table's p-values adjusted together by "
      "Benjamini-Hochberg, gated by Bonferroni over the table (false discovery rate at α; with no difference "
      "anywhere, any mark in at most α of tables; docs/statistics.md)."),
     ("Y. Benjamini and Y. Hochberg, Controlling the false discovery rate: a practical and powerful approach to "
      "multiple testing, Journal of the Royal Statistical Society B 57(1), 289–300, 1995.")),
    ("Friedman test and Nemenyi critical difference",
     ("Methods ranked per category (ties share the mean rank), the average ranks compared by the Friedman test "
     "(two methods: Wilcoxon signed-rank); only when it rejects are pairs compared by Nemenyi's critical "
     "difference (the CD diagram)."),
     ("J. Demšar, Statistical comparisons of classifiers over multiple data sets, Journal of Machine Learning "
     "Research 7, 1–30, 2006.")),
)


def split_notes(tables: list[Table]) -> tuple[list[str], dict[str, list[str]]]:
    """The notes that belong in the legend and each table's own notes (by label).

    The marking rule every tested table states ("Bold: best in its column. ‡: ...") is the legend's "Tests"
    paragraph: it is dropped from the tables. A note printed under every table is said once, in the legend
    ("All tables: ..."); one printed under more than two (but not all) is said once there too, naming the tables
    it applies to by their titles (a paper-scale report would repeat it under every dataset's such table)."""
    own = {table.label: [note for note in table.notes if not note.startswith("Bold: ")] for table in tables}
    counts = Counter(note for notes in own.values() for note in dict.fromkeys(notes))
    shared = {note: "All tables" for note, count in counts.items() if len(tables) > 1 and count == len(tables)}
    for note, count in counts.items():
        if note not in shared and count > 2:
            titles = dict.fromkeys(table.title for table in tables if note in own[table.label])
            shared[note] = f"{', '.join(titles)} tables"
    return ([f"{where}: {note}" for note, where in shared.items()],
            {label: [note for note in notes if note not in shared] for label, notes in own.items()})


def symbols(tables: list[Table]) -> list[tuple[str, str]]:
    """The legend's symbols that these tables use (bold, ‡ and – always: they say what is absent too)."""
    cells = [cell for table in tables for _, row in table.rows for cell in row]
    present = {"†": any(cell.degenerate for cell in cells), "(k/n seeds)": any(cell.partial for cell in cells),
               "failed": any(cell.failed for cell in cells)}
    return [(mark, meaning) for mark, meaning in SYMBOLS if present.get(mark, True)]


def legend_context(tables: list[Table]) -> dict:
    """What the HTML template reads for the legend, the Methods section and the tables' own notes."""
    shared_notes, own_notes = split_notes(tables)
    return {"legend_symbols": symbols(tables), "legend_texts": TEXTS, "methods": METHODS,
            "shared_notes": shared_notes, "own_notes": own_notes}
