"""Which cells of a report table are indistinguishable from the column's best, and how sure each cell is.

**Marking rule** (one dataset x metric table): in each category column the best complete cell (highest mean
over seeds) is bold, with every cell equal to it at the printed precision. Every other complete cell is
compared with the best one *on the same test images*:

* image AUROC: DeLong's test of the two correlated AUROCs (:func:`iadbench.stats.paired.delong_test`) on the
  jobs' ``scores.parquet``, aligned by image path; image F1-max: the jackknife test on the same scores
  (:func:`iadbench.stats.paired.jackknife_f1_max_test`: a maximum over thresholds is no smooth statistic);
* pixel AUROC, AP, AU-PRO: the paired jackknife on the jobs' leave-one-image-out values
  (:mod:`iadbench.stats.jackknife`; :func:`iadbench.stats.paired.jackknife_z`), read on Student's t with the
  variance's Satterthwaite degrees of freedom (:func:`iadbench.stats.paired.jackknife_df`: a few large defects
  carry the variance, so its estimate is noisy); jobs written before these values: as image AP, and the note says so;
* image AP: a studentized paired bootstrap test, ``z = studentized_z(replicates_best - replicates_other,
  observed)`` over the jobs' ``bootstrap.npz`` replicates (the same resamples of the same images: seeded by the
  seed, keyed by image path): the rows' difference (``estimates``; without row values: the replicates' mean
  difference) / the replicates' differences' standard deviation (counting replicates on either side of 0 would
  floor p at ~1 / B, which no correction over a 210-comparison table can pass);
* each test is *one-sided* (the claim is "worse than the best", z = (best - other) / se, p = P(T > z), T
  Student's t on n - 2 degrees of freedom but for the pixel jackknife, n the test images); several
  seeds: each seed is tested on its own and the *largest* p is kept (a cell counts as worse only when every
  seed says so).

**Which cells are marked** (docs/statistics.md). A cell's hypothesis is "as good as the column's best in truth".
The best is picked from the same data, so its one-sided p is multiplied by the column's k - 1 comparisons
(Bonferroni): a truly best cell is beaten by the observed best by z only if it is beaten by *some* cell by z,
at most k - 1 chances of P(T > z) each; the cell's p is valid whichever cell comes out best. The table's cells
(one dataset x metric, every category) are then corrected together by :func:`gated_benjamini_hochberg`:
Benjamini-Hochberg, opened only when the smallest p passes Bonferroni over the table at half the level
(``GATE_SHARE``). So (a) with no difference anywhere the chance of *any* mark is at most ``ALPHA`` / 2 for exact
tests (union bound, any dependence), ``ALPHA`` for tests up to twice too light in the far tail (docs/statistics.md),
and (b) otherwise the expected share of wrong marks among a table's marks is at most ``ALPHA`` (the FDR).
A family-wise rule over the whole table (the former pair-counting Holm step-down) cannot mark a 0.20 AP gap at
40 + 80 images in 90 % of cells: it held image AP at 0.75 (measured in ``benchmarks/significance_power.py``).
A cell whose adjusted p is at least ``ALPHA`` is *not significantly worse* (‡). The Mean column is not tested
(across categories the report ranks methods and runs the Friedman test instead). A column whose test set has
one class, or where a compared model lacks scores or replicates, is not tested at all: the table's note names
it and why.

**Intervals**: a cell's 95 % logit interval pools its seeds' bootstrap replicates around the rows' values
(:func:`iadbench.stats.uncertainty.combine_seed_intervals`); one seed without replicates falls back on the row's
``<metric>_ci_low/_ci_high``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from iadbench.results.columns import metric_columns_named
from iadbench.stats import jackknife, paired, uncertainty
from iadbench.stats.evidence import Evidence, arrays_of, jackknife_of, replicates_of, scores_of

ALPHA = 0.05
# The gate's share of ALPHA: the union bound over a table's cells is nearly tight at its level (exact normal
# tests: 4-5 % of null tables at the full level), so the promised ALPHA would leave no room for a paired test
# whose far tail is heavier than its p says; half of it is that room (docs/statistics.md).
GATE_SHARE = 0.5
INTERVAL_NOTE = ("Hover a cell for its 95% confidence interval: a bootstrap over the test images (defect-free and "
                 "defective drawn separately), read on the logit scale so that it stays inside 0-100 and keeps its "
                 "level near 100; a model that separates perfectly still gets a lower bound below 100. With several "
                 "seeds the seeds' resamples are pooled, each seed weighing the same, so the interval holds both the "
                 "test-set and the seed-to-seed spread.")
NOT_WORSE_MARK = "‡"
# DeLong's test for AUROC; F1-max, a maximum over thresholds, gets a jackknife test on the scores, not the bootstrap.
DELONG_METRIC, JACKKNIFE_METRIC = metric_columns_named("image_AUROC", "image_F1_max")
CellKey = tuple[str, str]  # model, category


@dataclass
class TableTests:
    """The paired tests of one table: adjusted p per tested (model, category) (:func:`gated_benjamini_hochberg`),
    columns left untested."""

    metric: str
    read_evidence: bool  # False: no scores or replicates were given to the report at all
    unsupported: bool = False  # no job has bootstrap replicates of this metric (e.g. pixel F1-max)
    adjusted: dict[CellKey, float] = field(default_factory=dict)
    untested: list[tuple[str, str]] = field(default_factory=list)  # (category label, reason)
    n_resamples: int = uncertainty.N_RESAMPLES
    family: int = 0  # cells corrected together: every cell of the tested columns, each best as p = 1
    several_seeds: bool = False
    alpha: float = ALPHA
    jackknife: bool = False  # a pixel metric tested by the paired jackknife
    fallback: bool = False   # a pixel metric without jackknife values (older evaluation outputs): the bootstrap

    @property
    def not_worse(self) -> set[CellKey]:
        return {key for key, p in self.adjusted.items() if p >= self.alpha}

    def notes(self) -> list[str]:
        """The note under the table: the rule, the method and what was left untested."""
        if not self.read_evidence:
            return [f"{NOT_WORSE_MARK} not computed: the report read no per-image scores or bootstrap replicates."]
        if self.unsupported:
            return [f"{NOT_WORSE_MARK} not computed: the evaluation jobs keep no bootstrap replicates of this metric."]
        notes = []
        if self.adjusted:
            df = "n - 2 degrees of freedom (n test images)"
            if self.metric == DELONG_METRIC:
                method = "a one-sided DeLong test of the two AUROCs on the same test images"
            elif self.metric == JACKKNIFE_METRIC or self.jackknife:
                method = ("a one-sided jackknife test on the same test images (the difference on all test images "
                          "divided by its leave-one-image-out standard error)")
                df = ("the jackknife variance's degrees of freedom (fewer where a few images carry it)"
                      if self.jackknife else df)
            else:
                method = (f"a one-sided paired bootstrap over the same {self.n_resamples} stratified resamples of "
                          "the test images for both models (the difference on all test images divided by its "
                          "standard deviation over the resamples)")
            seeds = ("; with several seeds each seed is tested on its own and the largest p is kept"
                     if self.several_seeds else "")
            count = len(self.adjusted)
            notes.append(f"Bold: best in its column. {NOT_WORSE_MARK}: not significantly worse than the column's best "
                         f"at α = {self.alpha:g} by {method}, read on Student's t with {df}{seeds}; each p multiplied by its column's comparisons "
                         "(the best is itself picked from the data), then the table's "
                         f"{count} comparison{'s' if count != 1 else ''} corrected together by Benjamini-Hochberg "
                         f"over its {self.family} cells (each best counted with p = 1), opened only when the "
                         "smallest p passes Bonferroni over them. A cell without "
                         f"{NOT_WORSE_MARK} (and not bold) is declared worse: in a table with no difference "
                         f"anywhere, some cell is declared worse in at most {self.alpha:.0%} of tables (the gate "
                         f"is at {GATE_SHARE * self.alpha:.1%}, leaving room for the tests' approximate tails); "
                         "otherwise at "
                         f"most {self.alpha:.0%} of the cells declared worse are expected to be as good as the best "
                         "(false discovery rate). "
                         "The Mean column is not tested.")
        if self.fallback and self.adjusted:
            notes.append("The evaluation outputs hold no leave-one-image-out values of this metric (older files): "
                         "tested by the paired bootstrap instead, whose far tail runs heavy (more false marks than α).")
        if self.untested:
            notes.append("Not tested (no marking): " + "; ".join(f"{category}: {reason}"
                                                                 for category, reason in self.untested) + ".")
        return notes


def _pair_p(evidence: Evidence, best: tuple, other: tuple, metric: str,
            estimates: dict[tuple[str, str, int], float], use_jackknife: bool = False) -> tuple[float, str]:
    """One-sided p of one seed's comparison (small when ``best`` is above ``other``), or NaN and why it cannot be
    made ({best}/{other} name the models)."""
    first, second = arrays_of(evidence, best), arrays_of(evidence, other)
    if first.unique and len(first.paths) == len(second.paths) and np.array_equal(first.paths, second.paths):
        labels, scores_best, scores_other = first.labels, first.scores, second.scores  # same images, same order
        if not np.array_equal(labels, second.labels):
            return math.nan, "{best} and {other} disagree on the images' labels"
    else:
        a, b = scores_of(evidence, best).set_index("image_path"), scores_of(evidence, other).set_index("image_path")
        if len(a) != len(b) or not a.index.is_unique or set(a.index) != set(b.index):
            return math.nan, "{best} and {other} scored different test images"
        b = b.reindex(a.index)
        labels = a["label"].to_numpy() > 0
        scores_best, scores_other = a["image_score"].to_numpy(), b["image_score"].to_numpy()
        if not np.array_equal(labels, b["label"].to_numpy() > 0):
            return math.nan, "{best} and {other} disagree on the images' labels"
    if metric == DELONG_METRIC:
        *_, z, _ = paired.delong_test(scores_best, scores_other, labels)
        return (_one_sided(z, labels.size), "") if not math.isnan(z) else (
            math.nan, "DeLong's test needs two test images of each class")
    if metric == JACKKNIFE_METRIC:
        z, _ = paired.jackknife_f1_max_test(scores_best, scores_other, labels)
        return (_one_sided(z, labels.size), "") if not math.isnan(z) else (
            math.nan, "the jackknife test needs two test images of each class")
    observed = [estimates.get((key[2], key[1], key[3]), math.nan) for key in (best, other)]
    if use_jackknife:
        return _jackknife_p(evidence, best, other, metric, observed[0] - observed[1])
    rep_best, rep_other = replicates_of(evidence, best, metric), replicates_of(evidence, other, metric)
    for model, replicates in (("{best}", rep_best), ("{other}", rep_other)):
        if replicates is None:
            return math.nan, f"{model} has no bootstrap replicates of this metric"
    if rep_best.shape != rep_other.shape:
        return math.nan, "{best} and {other} have different numbers of bootstrap resamples"
    differences = rep_best.astype(np.float64) - rep_other.astype(np.float64)
    # The rows' exact difference; the replicates (pixel ones on a threshold grid) only give its spread. Without
    # row values: the replicates' mean difference (the grid's bias, measured ~0.05 sd, nearly cancels in it).
    observed_difference = observed[0] - observed[1]
    if not math.isfinite(observed_difference):
        observed_difference = float(np.nanmean(differences)) if np.isfinite(differences).any() else math.nan
    z = paired.studentized_z(differences, observed_difference)
    return (_one_sided(z, labels.size), "") if not math.isnan(z) else (
        math.nan, "the metric is undefined in every resample")


def _jackknife_p(evidence: Evidence, best: tuple, other: tuple, metric: str, observed: float) -> tuple[float, str]:
    """:func:`_pair_p` of a pixel metric: :func:`iadbench.stats.jackknife.paired_test` on Student's t."""
    z, df, reason = jackknife.paired_test(jackknife_of(evidence, best), jackknife_of(evidence, other), metric, observed)
    return (math.nan, reason) if reason else (float(special.stdtr(df, -z)), "")


def _has_jackknife(evidence: Evidence, metric: str) -> bool:
    """Whether every job with bootstrap replicates of a pixel metric has its jackknife values (older outputs: none)."""
    jobs = [job for job in evidence.values() if metric in job.replicates]
    return metric.startswith("pixel_") and bool(jobs) and all(
        job.jackknife is not None and metric in job.jackknife.names for job in jobs)


def _one_sided(z: float, n_images: int) -> float:
    """p of "the other cell is not worse than the best", z = (best - other) / its standard error, read on Student's
    t with n - 2 degrees of freedom (the standard error is estimated from the same n images, in two strata)."""
    return float(special.stdtr(max(n_images - 2, 1), -z))


def _column(evidence: Evidence, dataset: str, category: str, metric: str, best: str, others: list[str],
            seeds: dict[CellKey, list[int]], name: Callable[[str], str],
            estimates: dict[tuple[str, str, int], float], use_jackknife: bool = False) -> tuple[dict[str, float], str]:
    """One-sided p (largest over seeds) per model compared with ``best``, or {} and why the column is not tested."""
    for model in (best, *others):
        if any(scores_of(evidence, (dataset, category, model, seed)) is None for seed in seeds[model, category]):
            return {}, f"{name(model)} has no per-image scores"
    labels = arrays_of(evidence, (dataset, category, best, seeds[best, category][0])).labels
    if labels.all() or not labels.any():
        return {}, (f"the test set has one class only ({int((~labels).sum())} defect-free, "
                    f"{int(labels.sum())} defective images)")
    p_values = {}
    for other in others:
        common = sorted(set(seeds[best, category]) & set(seeds[other, category]))
        if not common:
            return {}, f"{name(best)} and {name(other)} share no seed"
        per_seed = []
        for seed in common:
            p, reason = _pair_p(evidence, (dataset, category, best, seed), (dataset, category, other, seed), metric,
                                estimates, use_jackknife)
            if reason:
                return {}, reason.format(best=name(best), other=name(other))
            per_seed.append(p)
        p_values[other] = max(per_seed)
    return p_values, ""


def test_table(evidence: Evidence | None, dataset: str, metric: str, columns: dict[str, tuple[str, list[str]]],
               seeds: dict[CellKey, list[int]], *, name: Callable[[str], str] = str,
               label: Callable[[str], str] = str, alpha: float = ALPHA,
               estimates: dict[tuple[str, str, int], float] | None = None) -> TableTests:
    """Compare, per category of ``columns`` ({category: (best model, models to compare with it)}), each model
    with the best on the same images (``seeds``: the ok seeds of each (model, category); ``estimates``: the
    rows' values of ``metric`` by (model, category, seed), the observed differences); each p times the column's
    comparisons, then :func:`gated_benjamini_hochberg` over all."""
    tests = TableTests(metric, evidence is not None, alpha=alpha,
                       several_seeds=any(len(value) > 1 for value in seeds.values()))
    if evidence is None:
        return tests
    if metric not in (DELONG_METRIC, JACKKNIFE_METRIC) and not any(metric in job.replicates for job in evidence.values()):
        tests.unsupported = True  # one note for the table, not one per column
        return tests
    tests.jackknife = _has_jackknife(evidence, metric)
    tests.fallback = metric.startswith("pixel_") and not tests.jackknife
    raw: dict[CellKey, float] = {}
    family = 0
    for category, (best, others) in columns.items():
        if not others:
            continue
        p_values, reason = _column(evidence, dataset, category, metric, best, others, seeds, name,
                                   estimates or {}, tests.jackknife)
        if reason:
            tests.untested.append((label(category), reason))
        raw |= {(model, category): min(1.0, len(others) * p) for model, p in p_values.items()}
        family += len(p_values) + 1 if p_values else 0  # the column's cells, its best (p = 1) included
    tests.family = family
    tests.adjusted = gated_benjamini_hochberg(raw, family, alpha)
    lengths = {len(replicates) for key in evidence.values() for replicates in key.replicates.values()}
    tests.n_resamples = max(lengths) if lengths else uncertainty.N_RESAMPLES
    return tests


test_table.__test__ = False  # not a pytest test, whatever its name


def gated_benjamini_hochberg(p_values: dict[CellKey, float], family: int | None = None,
                             alpha: float = ALPHA, gate: float = GATE_SHARE) -> dict[CellKey, float]:
    """Adjusted p of a table's cells (``p_values``: each compared cell's p of "as good as its column's best",
    already multiplied by the column's k - 1 comparisons; ``family``: m, every cell of the tested columns, the
    bests included as p = 1, default the finite p): Benjamini-Hochberg's q-values over m, but every cell stays at
    least ``alpha`` (not declared worse) unless the smallest p passes Bonferroni over the table at ``gate`` x
    ``alpha`` (m p_min < gate alpha). NaN stays NaN.

    The gate makes "no difference anywhere" safe under any dependence between the cells: a mark needs some cell's
    p below gate alpha / m, which happens in at most m (gate alpha / m) = gate alpha of such tables (union bound
    over every cell: which one comes out best, untested, is itself random, so the bests count), and in at most
    alpha of them when the p's far tail runs up to 1 / gate times too light. BH alone relies on Simes' inequality
    there, which the cells of one column, all compared with the same best, only just miss (5.2 % of simulated
    null tables with exact normal z). When the gate opens, the marks are BH's, whose expected share of wrong
    marks (false discovery rate) stays under alpha; the gate only removes marks."""
    keys = list(p_values)
    values = np.array([p_values[key] for key in keys], dtype=np.float64)
    finite = np.isfinite(values)
    m = max(int(finite.sum()), family or 0)
    adjusted = paired.benjamini_hochberg(values, m)
    if finite.any() and m * values[finite].min() >= gate * alpha:
        adjusted[finite] = np.maximum(adjusted[finite], alpha)
    return dict(zip(keys, adjusted.tolist(), strict=True))


def interval_text(evidence: Evidence | None, dataset: str, category: str, model: str, metric: str, seeds: list[int],
                  row_interval: tuple[float, float, int] | None = None, level: float = uncertainty.CI_LEVEL,
                  estimates: dict[int, float] | None = None, n_images: int | None = None) -> str:
    """"95% CI [low, high] (logit bootstrap over test images, 2000 resamples)" in percent, seeds pooled
    (:func:`iadbench.stats.uncertainty.combine_seed_intervals` around the rows' values, ``estimates`` by seed, over
    ``n_images`` test images, else the seed's score table's); "" when there are neither replicates nor (one seed)
    the row's interval."""
    samples = [replicates_of(evidence, (dataset, category, model, seed), metric) for seed in seeds]
    values = [(estimates or {}).get(seed, math.nan) for seed in seeds]
    if n_images is None and seeds and scores_of(evidence, (dataset, category, model, seeds[0])) is not None:
        n_images = len(scores_of(evidence, (dataset, category, model, seeds[0])))
    pooled = ""
    if (seeds and n_images and all(map(math.isfinite, values))
            and all(sample is not None and np.isfinite(sample).any() for sample in samples)):
        low, high = uncertainty.combine_seed_intervals(samples, values, n_images, level)
        resamples = max(len(sample) for sample in samples)
        pooled = f"; {len(seeds)} seeds pooled" if len(seeds) > 1 else ""
    elif len(seeds) == 1 and row_interval is not None and all(map(math.isfinite, row_interval[:2])):
        low, high, resamples = row_interval
    else:
        return ""
    return (f"{100 * level:g}% CI [{100 * low:.2f}, {100 * high:.2f}] (logit bootstrap over test images, "
            f"{resamples} resamples{pooled})")


def mean_interval(evidence: Evidence | None, dataset: str, categories: list[str], model: str, metric: str,
                  estimates: dict[tuple[str, str], dict[int, float]], n_images: dict[tuple[str, str], int],
                  level: float = uncertainty.CI_LEVEL) -> tuple[float, float, str] | None:
    """The interval of a model's mean over ``categories`` (the tables' Mean column): per seed, the categories'
    bootstrap replicates averaged resample by resample (the categories' test sets are resampled independently,
    so the averages are replicates of the mean), then pooled over seeds as for a cell, around the seeds' means
    of the rows' values (``estimates`` by (model, category), then seed), over all the categories' test images.
    (low, high, its hover text), or None unless every category has the same seeds, their values, their
    test-image counts and replicates."""
    if evidence is None or not categories:
        return None
    seeds = sorted(estimates.get((model, categories[0]), {}))
    if not seeds or any(sorted(estimates.get((model, category), {})) != seeds for category in categories):
        return None
    if any(not n_images.get((model, category)) for category in categories):
        return None
    samples, values = [], []
    for seed in seeds:
        replicates = [replicates_of(evidence, (dataset, category, model, seed), metric) for category in categories]
        if any(sample is None for sample in replicates) or len({len(sample) for sample in replicates}) != 1:
            return None
        samples.append(np.mean(np.stack(replicates).astype(np.float64), axis=0))
        values.append(float(np.mean([estimates[model, category][seed] for category in categories])))
    if not all(map(math.isfinite, values)) or not all(np.isfinite(sample).any() for sample in samples):
        return None
    total = sum(n_images[model, category] for category in categories)
    low, high = uncertainty.combine_seed_intervals(samples, values, total, level)
    pooled = f"; {len(seeds)} seeds pooled" if len(seeds) > 1 else ""
    return low, high, (f"{100 * level:g}% CI [{100 * low:.2f}, {100 * high:.2f}] of the mean over {len(categories)} "
                       f"categories (logit bootstrap over each category's test images, {len(samples[0])} "
                       f"resamples{pooled})")
