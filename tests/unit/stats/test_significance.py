"""Paired tests in the report's tables: which cells are marked, the gated Benjamini-Hochberg correction over a
table, untestable columns, the intervals on hover; checked against scikit-learn and scipy computed the slow way."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from iadbench.metrics import measures as metrics
from iadbench.report.tables import metric_table
from iadbench.results.rows import make_row
from iadbench.stats import significance
from iadbench.stats.evidence import JobEvidence
from iadbench.stats.paired import benjamini_hochberg, delong_test, jackknife_f1_max_test, studentized_p
from iadbench.stats.uncertainty import (
    IMAGE_NAMES,
    combine_seed_intervals,
    image_replicates,
    logit_interval,
    resample_counts,
)

N = 30
LABELS = np.r_[np.zeros(N, int), np.ones(N, int)]
PATHS = np.array([f"/data/test/{'good' if label == 0 else 'crack'}/{index:03d}.png"
                  for index, label in enumerate(LABELS)])
RESAMPLES = 400


def model_scores(seed=0):
    """best; twin: best plus noise (indistinguishable); medium: raw DeLong p ~0.013; worse: far below."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, 1, 2 * N)
    best = LABELS * 1.5 + shared + 0.5 * rng.normal(0, 1, 2 * N)
    return {"best": best, "twin": best + 0.3 * np.random.default_rng(seed + 1).normal(0, 1, 2 * N),
            "medium": LABELS * 1.1 + shared + 0.5 * np.random.default_rng(seed + 102).normal(0, 1, 2 * N),
            "worse": LABELS * 0.2 + shared + 0.5 * np.random.default_rng(seed + 3).normal(0, 1, 2 * N)}


def job_evidence(scores, seed, labels=LABELS, paths=PATHS):
    """What an evaluation job leaves: its score table (listed in a shuffled order: alignment is by path) and
    float32 replicates drawn as evaluate does (seeded by the seed, keyed by path)."""
    table = pd.DataFrame({"image_path": paths, "label": (labels > 0).astype(np.int8), "defect_type": "x",
                          "image_score": scores, "map_max": np.nan, "map_mean": np.nan})
    table = table.sample(frac=1, random_state=seed + 7).reset_index(drop=True)
    counts = resample_counts(labels, RESAMPLES, seed, keys=paths)
    replicates = image_replicates(scores, labels, counts).astype(np.float32)
    return JobEvidence(table, dict(zip(IMAGE_NAMES, replicates.T, strict=True)))


def build(models, categories=("c1",), seeds=(0,)):
    """Rows and evidence of ``models`` on every category and seed (the same images everywhere)."""
    rows, evidence = [], {}
    for seed in seeds:
        scores = model_scores(seed)
        for category in categories:
            for model in models:
                values = metrics.image_metrics(scores[model], LABELS)
                rows.append(make_row({"dataset": "d", "category": category, "model": model, "seed": seed,
                                      "status": "ok", **values, "finished_at": pd.Timestamp("2026-01-01", tz="UTC")}))
                evidence["d", category, model, seed] = job_evidence(scores[model], seed)
    return pd.concat(rows, ignore_index=True), evidence


def cells(table, model):
    return dict(zip(table.columns, dict(table.rows)[model], strict=True))


@pytest.mark.parametrize("metric", ["image_AUROC", "image_AP"])
def test_best_is_bold_the_indistinguishable_is_marked_the_clearly_worse_is_not(metric):
    frame, evidence = build(("best", "twin", "worse"))
    table = metric_table(frame, "d", metric, metric, evidence=evidence)
    best, twin, worse = (cells(table, model)["c1"] for model in ("best", "twin", "worse"))
    assert best.bold and not best.not_worse
    assert twin.not_worse and not twin.bold
    assert not worse.not_worse and not worse.bold
    assert not any(cell.not_worse for cell in (cells(table, model)["Mean"] for model in ("twin", "worse")))
    method = "DeLong" if metric == "image_AUROC" else f"paired bootstrap over the same {RESAMPLES} stratified"
    assert method in table.notes[0] and "one-sided" in table.notes[0]
    assert "then the table's 2 comparisons corrected together by Benjamini-Hochberg" in table.notes[0]
    assert "α = 0.05" in table.notes[0]


def test_benjamini_hochberg_runs_over_the_table_on_the_columns_bonferroni_p():
    """Each cell's one-sided p times its column's k - 1 comparisons, then Benjamini-Hochberg over the table, as
    scipy's false_discovery_control computes it; medium (one-sided p ~0.01, times 2) stays declared worse in a
    table of two columns (BH, unlike Holm, does not lift it past 0.05)."""
    scores = model_scores(0)
    one_sided = {model: stats.t.sf(delong_test(scores["best"], scores[model], LABELS)[2], LABELS.size - 2)
                 for model in ("twin", "medium", "worse")}
    assert 0.006 < one_sided["medium"] < 0.0125 and one_sided["twin"] > 0.25 and one_sided["worse"] < 5e-5
    two, evidence = build(("best", "medium", "worse"), categories=("c1", "c2"))
    table = metric_table(two, "d", "image_AUROC", "AUROC", evidence=evidence)
    assert not cells(table, "medium")["c1"].not_worse and not cells(table, "medium")["c2"].not_worse
    columns = {category: ("best", ["medium", "worse"]) for category in ("c1", "c2")}
    seeds = {(model, category): [0] for model in scores for category in ("c1", "c2")}
    tests = significance.test_table(evidence, "d", "image_AUROC", columns, seeds)
    expected = stats.false_discovery_control([2 * one_sided[model] for _ in ("c1", "c2")
                                              for model in ("medium", "worse")] + [1.0, 1.0])  # the bests: p = 1
    assert tests.family == 6 and list(tests.adjusted.values()) == pytest.approx(list(expected[:4]), rel=1e-9)


def test_benjamini_hochberg_equals_scipy_and_the_gate_closes_without_one_small_p():
    """BH's q-values as scipy's (NaN kept out); the gate: four p of 0.02 pass BH (q 0.02) but none passes
    Bonferroni over the table at the gate's level (4 x 0.02 > 0.025), so none is declared worse; one p of 0.004
    opens it (5 x 0.004 < 0.025); a family larger than the p's given counts the rest as p = 1."""
    p = np.array([0.03, np.nan, 0.001, 0.2, 0.04, 0.0004])
    finite = np.isfinite(p)
    q = benjamini_hochberg(p)
    assert q[finite] == pytest.approx(stats.false_discovery_control(p[finite]), rel=1e-12) and np.isnan(q[1])
    four = {(f"m{index}", "c"): 0.02 for index in range(4)}
    assert all(value == pytest.approx(0.02) for value in benjamini_hochberg(list(four.values())))
    gated = significance.gated_benjamini_hochberg(four)
    assert all(value >= significance.ALPHA for value in gated.values())
    assert all(value >= significance.ALPHA for value in significance.gated_benjamini_hochberg(
        four | {("m0", "c"): 0.01}).values())  # 5 x 0.01 passes the full level, not the gate's half
    opened = significance.gated_benjamini_hochberg(four | {("m0", "c"): 0.004, ("x", "c"): math.nan})
    assert all(value < significance.ALPHA for key, value in opened.items() if key != ("x", "c"))
    assert math.isnan(opened["x", "c"])
    assert benjamini_hochberg([0.01, 0.02], family=4) == pytest.approx(stats.false_discovery_control([0.01, 0.02, 1, 1])[:2])


def test_a_null_table_keeps_its_error_rate_with_exact_normal_tests():
    """With no difference anywhere, 2,000 simulated 15 x 15 tables of exactly normal one-sided tests against the
    observed best (equal models, independent categories): some cell declared worse in at most 5 % of them with the
    gate (union bound over all 225 cells, each best as p = 1); without the column's k - 1 factor (the range of 15
    estimates read as differences) in most."""
    rng = np.random.default_rng(0)
    false_tables = {"gated": 0, "bests_left_out": 0, "no_column_factor": 0}
    for _ in range(2000):
        values = rng.normal(size=(15, 15))  # categories x models; a pair's difference has sd sqrt(2)
        best = values.max(axis=1, keepdims=True)
        p = stats.norm.sf(((best - values) / np.sqrt(2))[values < best])
        cells_ = {(index, "t"): min(1.0, 14 * value) for index, value in enumerate(p)}
        false_tables["gated"] += min(significance.gated_benjamini_hochberg(cells_, 225).values()) < 0.05
        false_tables["bests_left_out"] += min(significance.gated_benjamini_hochberg(cells_).values()) < 0.05
        false_tables["no_column_factor"] += benjamini_hochberg(p, 225).min() < 0.05
    assert false_tables["gated"] / 2000 <= 0.05
    assert false_tables["no_column_factor"] / 2000 > 0.5
    assert false_tables["bests_left_out"] > false_tables["gated"]  # a union over 210 of the 225 cells: ~5.3 %


def test_a_null_table_keeps_its_error_rate_when_the_tests_tails_run_heavy():
    """The paired tests are approximations whose far tail is known only from simulation. A test whose p at the
    gate's level is 1.5 times too small (the p of exactly normal z divided by 1.5) still keeps the null tables'
    error at 5 %: the gate, at half the level, leaves that room (at the full level: 6.2 % of tables). Exact
    tests keep well under it."""
    rng = np.random.default_rng(1)
    false_tables = {"exact": 0, "heavy": 0}
    for _ in range(2000):
        values = rng.normal(size=(15, 15))
        best = values.max(axis=1, keepdims=True)
        p = stats.norm.sf(((best - values) / np.sqrt(2))[values < best])
        for name, scale in (("exact", 1.0), ("heavy", 1.5)):
            cells_ = {(index, "t"): min(1.0, 14 * value / scale) for index, value in enumerate(p)}
            false_tables[name] += min(significance.gated_benjamini_hochberg(cells_, 225).values()) < 0.05
    assert false_tables["heavy"] / 2000 <= 0.05
    assert false_tables["exact"] / 2000 <= 0.035


def test_several_seeds_keep_the_largest_p():
    _, evidence = build(("best", "medium"), seeds=(0, 1))
    per_seed = [stats.t.sf(delong_test(model_scores(seed)["best"], model_scores(seed)["medium"], LABELS)[2], 2 * N - 2)
                for seed in (0, 1)]
    tests = significance.test_table(evidence, "d", "image_AUROC", {"c1": ("best", ["medium"])},
                                    {("best", "c1"): [0, 1], ("medium", "c1"): [0, 1]})
    # one comparison, two cells (the best counts as p = 1): q = 2 p
    assert tests.adjusted["medium", "c1"] == pytest.approx(2 * max(per_seed), rel=1e-12)
    assert "largest p is kept" in tests.notes()[0]


def test_single_class_category_and_missing_scores_are_noted_not_marked():
    frame, evidence = build(("best", "twin", "worse"), categories=("c1", "c2", "defects_only"))
    # A test set of defective images only: AP is defined (and differs between models), AUROC is not.
    defective = LABELS[LABELS > 0]
    for model, scores in model_scores(0).items():
        if model in ("best", "twin", "worse"):
            evidence["d", "defects_only", model, 0] = job_evidence(scores[LABELS > 0], 0, defective, PATHS[LABELS > 0])
    del evidence["d", "c2", "twin", 0]  # e.g. an older run without score tables
    table = metric_table(frame, "d", "image_AP", "AP", evidence=evidence)
    assert cells(table, "twin")["c1"].not_worse
    for category in ("c2", "defects_only"):
        assert not any(cells(table, model)[category].not_worse for model in ("twin", "worse"))
        assert cells(table, "best")[category].bold
    untested = table.notes[-1]
    assert untested.startswith("Not tested (no marking): C2: twin has no per-image scores")
    assert "Defects Only: the test set has one class only (0 defect-free, 30 defective images)" in untested


def test_without_evidence_nothing_is_tested_and_the_note_says_so():
    frame, _ = build(("best", "twin"))
    table = metric_table(frame, "d", "image_AUROC", "AUROC")
    assert not any(cell.not_worse for _, row in table.rows for cell in row)
    assert table.notes == ["‡ not computed: the report read no per-image scores or bootstrap replicates."]


def test_a_metric_without_replicates_gets_one_note():
    frame, evidence = build(("best", "worse"), categories=("c1", "c2"))
    frame["pixel_F1_max"] = frame["image_F1_max"]  # e.g. pixel F1-max: evaluated, never bootstrapped
    table = metric_table(frame, "d", "pixel_F1_max", "Pixel F1-max", evidence=evidence)
    assert table.notes == ["‡ not computed: the evaluation jobs keep no bootstrap replicates of this metric."]


def test_intervals_pool_the_seeds_and_fall_back_on_the_row():
    frame, evidence = build(("best", "twin"), seeds=(0, 1))
    cell = cells(metric_table(frame, "d", "image_AUROC", "AUROC", evidence=evidence), "twin")["c1"]
    values = [roc_auc_score(LABELS, model_scores(seed)["twin"]) for seed in (0, 1)]
    low, high = combine_seed_intervals([evidence["d", "c1", "twin", seed].replicates["image_AUROC"]
                                        for seed in (0, 1)], values, LABELS.size)
    assert cell.interval == (f"95% CI [{100 * low:.2f}, {100 * high:.2f}] (logit bootstrap over test images, "
                             f"{RESAMPLES} resamples; 2 seeds pooled)")
    one, evidence = build(("best", "twin"))
    low, high = logit_interval(evidence["d", "c1", "twin", 0].replicates["image_AUROC"], values[:1], LABELS.size)
    cell = cells(metric_table(one, "d", "image_AUROC", "AUROC", evidence=evidence), "twin")["c1"]
    assert cell.interval == (f"95% CI [{100 * low[0]:.2f}, {100 * high[0]:.2f}] (logit bootstrap over test "
                             f"images, {RESAMPLES} resamples)")
    one[["image_AUROC_ci_low", "image_AUROC_ci_high", "ci_resamples"]] = [0.5, 0.75, 2000]
    cell = cells(metric_table(one, "d", "image_AUROC", "AUROC"), "twin")["c1"]
    assert cell.interval == "95% CI [50.00, 75.00] (logit bootstrap over test images, 2000 resamples)"


# Slow references: scikit-learn and scipy ------------------------------------------------------------------

TIES_AND_TINY = {
    "tiny with ties": (np.array([0.1, 0.4, 0.4, 0.8]), np.array([0.2, 0.2, 0.5, 0.9]), np.array([0, 0, 1, 1])),
    "everything tied": (np.full(7, 0.3), np.full(7, 0.6), np.array([0, 0, 0, 1, 1, 1, 1])),
    "tied against perfect": (np.full(7, 0.3), np.r_[np.full(3, 0.1), np.full(4, 0.2)], np.array([0, 0, 0, 1, 1, 1, 1])),
    "rounded": (np.round(model_scores(0)["best"], 0), np.round(model_scores(0)["medium"], 0), LABELS),
}


@pytest.mark.parametrize("case", list(TIES_AND_TINY))
def test_delong_aucs_equal_scikit_learn_and_reach_the_table(case):
    a, b, labels = TIES_AND_TINY[case]
    auc_a, auc_b, z, p = delong_test(a, b, labels)
    assert (auc_a, auc_b) == pytest.approx((roc_auc_score(labels, a), roc_auc_score(labels, b)), abs=1e-12)
    paths = np.array([f"/t/{index}.png" for index in range(labels.size)])
    evidence = {("d", "c", "a", 0): job_evidence(a, 0, labels, paths), ("d", "c", "b", 0): job_evidence(b, 0, labels, paths)}
    tests = significance.test_table(evidence, "d", "image_AUROC", {"c": ("a", ["b"])}, {("a", "c"): [0], ("b", "c"): [0]})
    # one-sided "b below a"; two cells (a as p = 1): q = 2 p
    assert tests.adjusted["b", "c"] == pytest.approx(min(1.0, 2 * stats.t.sf(z, labels.size - 2)), rel=1e-12)
    if case == "everything tied":  # no variance and no difference: nothing to reject
        assert p == 1.0
    if case == "tied against perfect":  # no variance but a difference: a sure one
        assert p == 0.0


def f1_max_score(labels, scores):
    precision, recall, _ = precision_recall_curve(labels, scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nanmax(2 * precision * recall / (precision + recall))


@pytest.mark.parametrize("other", ["twin", "worse"])
def test_jackknife_f1_max_test_equals_a_slow_scikit_learn_jackknife(other):
    """F1-max of the images with one left out, scored by scikit-learn; stratified jackknife variance; z and p from
    scipy: the report's F1-max p (from the score tables) is the same."""
    scores = model_scores(0)
    evidence = {("d", "c", model, 0): job_evidence(scores[model], 0) for model in ("best", other)}
    keep = ~np.eye(LABELS.size, dtype=bool)
    left_out = np.array([f1_max_score(LABELS[row], scores["best"][row]) - f1_max_score(LABELS[row], scores[other][row])
                         for row in keep])
    variance = sum((part.size - 1) / part.size * np.sum((part - part.mean()) ** 2)
                   for part in (left_out[LABELS > 0], left_out[LABELS == 0]))
    z = (f1_max_score(LABELS, scores["best"]) - f1_max_score(LABELS, scores[other])) / np.sqrt(variance)
    slow_p = stats.t.sf(z, LABELS.size - 2)  # one-sided: "other below best", Student's t on n - 2
    tests = significance.test_table(evidence, "d", "image_F1_max", {"c": ("best", [other])},
                                    {("best", "c"): [0], (other, "c"): [0]})
    assert tests.adjusted[other, "c"] == pytest.approx(min(1.0, 2 * slow_p), rel=1e-9, abs=1e-15)  # two cells
    assert "jackknife" in tests.notes()[0]
    if other == "worse":
        assert slow_p < 0.05


@pytest.mark.parametrize(("metric", "score"), [("image_AP", average_precision_score)])
@pytest.mark.parametrize("other", ["twin", "worse"])
def test_studentized_p_equals_a_slow_scikit_learn_bootstrap(metric, score, other):
    """Each resample's images expanded and scored by scikit-learn, z = the full-set difference over the
    differences' standard deviation, p from scipy's normal: the report's p (from the fast float32 replicates of
    both jobs and the rows' values) is the same up to float32 rounding."""
    scores = model_scores(0)
    evidence = {("d", "c", model, 0): job_evidence(scores[model], 0) for model in ("best", other)}
    counts = resample_counts(LABELS, RESAMPLES, 0, keys=PATHS)
    differences = []
    for multiplicity in counts:
        index = np.repeat(np.arange(LABELS.size), multiplicity)
        differences.append(score(LABELS[index], scores["best"][index]) - score(LABELS[index], scores[other][index]))
    observed = {model: score(LABELS, scores[model]) for model in ("best", other)}
    z = (observed["best"] - observed[other]) / np.std(differences, ddof=1)
    assert 2 * stats.norm.sf(abs(z)) == pytest.approx(
        studentized_p(np.array(differences), observed["best"] - observed[other]), rel=1e-9)
    slow_p = stats.t.sf(z, LABELS.size - 2)  # the table's test: one-sided, Student's t on n - 2
    tests = significance.test_table(evidence, "d", metric, {"c": ("best", [other])},
                                    {("best", "c"): [0], (other, "c"): [0]},
                                    estimates={(model, "c", 0): value for model, value in observed.items()})
    assert tests.adjusted[other, "c"] == pytest.approx(min(1.0, 2 * slow_p), rel=1e-3, abs=1e-12)  # two cells


@pytest.mark.parametrize(("other", "differs"), [("twin", False), ("worse", True)])
def test_decisions_agree_with_scipys_paired_bootstrap_interval(other, differs):
    """scipy.stats.bootstrap (paired, percentile, not stratified) of the AUROC difference: its 90 % interval (a
    one-sided 5 % bound) lies above 0 exactly when the report calls the model significantly worse."""
    scores = model_scores(0)
    result = stats.bootstrap((scores["best"], scores[other], LABELS),
                             lambda a, b, labels: roc_auc_score(labels, a) - roc_auc_score(labels, b),
                             paired=True, vectorized=False, n_resamples=999, method="percentile", confidence_level=0.9,
                             random_state=np.random.default_rng(0))
    excludes_zero = result.confidence_interval.low > 0
    evidence = {("d", "c", model, 0): job_evidence(scores[model], 0) for model in ("best", other)}
    tests = significance.test_table(evidence, "d", "image_AUROC", {"c": ("best", [other])},
                                    {("best", "c"): [0], (other, "c"): [0]})
    assert excludes_zero == differs == ((other, "c") not in tests.not_worse)
    assert math.isfinite(tests.adjusted[other, "c"])


# Paper scale: 15 models x 15 categories, 210 comparisons in one table ----------------------------------

PAPER_MODELS = [f"m{index:02d}" for index in range(15)]
PAPER_CATEGORIES = [f"c{index:02d}" for index in range(15)]


def paper_evidence(worse_gap: float, seed: int = 0):
    """15 models on 15 categories of 30 + 30 images: m00..m13 equally good (AUROC ~0.9), m14 ``worse_gap`` lower
    in separation; one set of jobs reused by every category (the same images, the same replicates)."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, 1, 2 * N)
    jobs = {}
    for index, model in enumerate(PAPER_MODELS):
        separation = 2.0 - (worse_gap if index == len(PAPER_MODELS) - 1 else 0.0)
        jobs[model] = job_evidence(LABELS * separation + shared + 0.6 * rng.normal(0, 1, 2 * N), seed)
    evidence = {("d", category, model, seed): jobs[model] for category in PAPER_CATEGORIES for model in PAPER_MODELS}
    estimates = {(model, category, seed): float(metrics.image_ap(jobs[model].scores["image_score"],
                                                                 jobs[model].scores["label"]))
                 for category in PAPER_CATEGORIES for model in PAPER_MODELS}
    best = max(PAPER_MODELS, key=lambda model: estimates[model, "c00", seed])
    columns = {category: (best, [model for model in PAPER_MODELS if model != best]) for category in PAPER_CATEGORIES}
    seeds = {(model, category): [seed] for model in PAPER_MODELS for category in PAPER_CATEGORIES}
    return evidence, estimates, columns, seeds


@pytest.mark.parametrize("metric", ["image_AP", "image_F1_max"])
def test_a_clearly_worse_model_is_marked_worse_in_a_210_comparison_table(metric):
    """The floor test: a bootstrap p of (tail + 1)/(B + 1), times 14 comparisons per column, never beats Bonferroni
    over 210 comparisons (the gate); the studentized p (AP) and the jackknife p (F1-max) do when the gap is clear."""
    evidence, estimates, columns, seeds = paper_evidence(worse_gap=1.8)
    tests = significance.test_table(evidence, "d", metric, columns, seeds, estimates=estimates)
    assert len(tests.adjusted) == 210
    worse = PAPER_MODELS[-1]
    assert all((worse, category) not in tests.not_worse for category in PAPER_CATEGORIES)
    assert "then the table's 210 comparisons corrected together by Benjamini-Hochberg" in tests.notes()[0]
    assert tests.family == 225 and "over its 225 cells" in tests.notes()[0]


def test_equal_models_keep_the_error_rate():
    """No difference anywhere: over null tables, a false "worse" mark in at most ~5 % of tables, and the raw p of
    two equal models is about uniform (share under 0.05 near 0.05)."""
    false_tables, raw = 0, []
    for seed in range(20):
        evidence, estimates, columns, seeds = paper_evidence(worse_gap=0.0, seed=seed)
        tests = significance.test_table(evidence, "d", "image_AP", columns, seeds, estimates=estimates)
        false_tables += len(tests.not_worse) < len(tests.adjusted)
        for model_a, model_b in (("m00", "m01"), ("m02", "m03"), ("m04", "m05")):
            a, b = (evidence["d", "c00", model, seed] for model in (model_a, model_b))
            difference = estimates[model_a, "c00", seed] - estimates[model_b, "c00", seed]
            raw.append(studentized_p(a.replicates["image_AP"] - b.replicates["image_AP"], difference))
    assert false_tables <= 2
    assert 0.0 <= np.mean(np.array(raw) < 0.05) <= 0.12
    assert stats.kstest(raw, "uniform").pvalue > 0.01


def test_the_mean_over_categories_gets_an_interval_from_the_categories_replicates():
    import numpy as np

    from iadbench.stats.evidence import JobEvidence
    from iadbench.stats.significance import mean_interval

    rng = np.random.default_rng(0)
    categories, seeds = ["a", "b", "c"], [0, 1]
    values = {("m", category): {seed: 0.8 + 0.05 * index + 0.01 * seed for seed in seeds}
              for index, category in enumerate(categories)}
    evidence = {("d", category, "m", seed): JobEvidence(replicates={
        "image_AP": values["m", category][seed] + 0.02 * rng.normal(size=400)}) for category in categories
        for seed in seeds}
    n_images = {("m", category): 100 for category in categories}
    low, high, text = mean_interval(evidence, "d", categories, "m", "image_AP", values, n_images)
    mean = np.mean([value for seeds_ in values.values() for value in seeds_.values()])
    assert low < mean < high and high - low < 0.1  # averaging three categories narrows each one's spread
    assert "of the mean over 3 categories" in text and "2 seeds pooled" in text
    del evidence["d", "b", "m", 1]  # a category without replicates for a seed: no interval rather than a wrong one
    assert mean_interval(evidence, "d", categories, "m", "image_AP", values, n_images) is None
    assert mean_interval(None, "d", categories, "m", "image_AP", values, n_images) is None


def test_equal_models_keep_the_error_rate_for_f1_max():
    """F1-max's jackknife test on null tables: a false "worse" in at most ~5 % of them, and the raw p of two equal
    models at most about uniform (the jackknife errs on the safe side: share under 0.05 not above ~0.05)."""
    false_tables, raw = 0, []
    for seed in range(20):
        evidence, _, columns, seeds = paper_evidence(worse_gap=0.0, seed=seed)
        tests = significance.test_table(evidence, "d", "image_F1_max", columns, seeds)
        false_tables += len(tests.not_worse) < len(tests.adjusted)
        for model_a, model_b in (("m00", "m01"), ("m02", "m03"), ("m04", "m05")):
            a, b = (evidence["d", "c00", model, seed].scores for model in (model_a, model_b))
            raw.append(jackknife_f1_max_test(a["image_score"], b["image_score"], a["label"])[1])
    assert false_tables <= 2
    assert np.mean(np.array(raw) < 0.05) <= 0.12 and np.mean(np.array(raw) > 0.5) >= 0.3


def delong_paper_table(rng, separations):
    """A 15 x 15 image AUROC table of independent categories (30 + 30 images each): per model its separation;
    the jobs keep scores only (DeLong needs no replicates). -> (tests, worse cells per model index)."""
    evidence, columns, seeds = {}, {}, {}
    for category in PAPER_CATEGORIES:
        shared = rng.normal(0, 1, 2 * N)
        scores = {model: LABELS * separation + shared + 0.6 * rng.normal(0, 1, 2 * N)
                  for model, separation in zip(PAPER_MODELS, separations, strict=True)}
        for model, values in scores.items():
            table = pd.DataFrame({"image_path": PATHS, "label": LABELS.astype(np.int8), "image_score": values})
            evidence["d", category, model, 0] = JobEvidence(table, {})
            seeds[model, category] = [0]
        best = max(PAPER_MODELS, key=lambda model, scores=scores: roc_auc_score(LABELS, scores[model]))
        columns[category] = (best, [model for model in PAPER_MODELS if model != best])
    tests = significance.test_table(evidence, "d", "image_AUROC", columns, seeds)
    worse = {key for key, p in tests.adjusted.items() if p < tests.alpha}
    return tests, worse


def test_null_paper_tables_keep_the_error_rate_and_a_clear_gap_is_found():
    """The whole procedure (one-sided DeLong, the column's k - 1 factor, gated BH over 225 cells) on seeded
    15 x 15 tables of independent categories: with no difference, at most 1 of 10 tables gets any "worse" (the
    bound is 5 %; without the k - 1 factor nearly every table would); with 7 of 15 models clearly worse, >= 90 % of
    their cells are declared worse and few of the declared cells are good models (the false discovery rate).
    The benchmark measures both rates at paper scale (docs/statistics.md)."""
    rng = np.random.default_rng(21)
    false_tables = sum(bool(delong_paper_table(rng, [2.0] * 15)[1]) for _ in range(10))
    assert false_tables <= 1
    tests, worse = delong_paper_table(rng, [2.0] * 8 + [0.6] * 7)
    assert tests.family == 225
    truly_worse = {(model, category) for model in PAPER_MODELS[8:] for category in PAPER_CATEGORIES}
    assert len(worse & truly_worse) >= 0.9 * len(truly_worse)
    assert len(worse - truly_worse) <= 0.1 * len(worse)
