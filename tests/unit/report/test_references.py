"""Reference CSVs: the study's file checked cell by cell against the study's own text, the reader's
validation, and the audit of the study's cells (threshold-saturated PRO, degenerate scores)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from iadbench.report.references import (
    DEGENERATE,
    MEAN_CATEGORY,
    NOT_REPORTED,
    REFERENCE_COLUMNS,
    SATURATED,
    STUDY_SOURCE,
    read_references,
    reference_files,
    study_audit_cells,
)
from iadbench.results.columns import metric_names

ROOT = Path(__file__).parents[3]
REFERENCE_DIR = ROOT / "config" / "reference"
STUDY_FILE = REFERENCE_DIR / "study_mvtec_ad.csv"
# The study's text lives in the `shared/` folder beside the repository (CI keeps a copy beside the clone).
SEED = Path(__file__).parents[4] / "shared" / "seed" / "000_0e2f227d0fa2046c.txt"

MODELS = {"CFA": "cfa", "CFLOW": "cflow", "CSFLOW": "csflow", "DFKDE": "dfkde", "DFM": "dfm", "DRAEM": "draem",
          "DSR": "dsr", "FASTFLOW": "fastflow", "GANomaly": "ganomaly", "PaDiM": "padim",
          "PatchCore": "patchcore", "RD": "reverse_distillation", "RKDE": "rkde", "STFPM": "stfpm",
          "UFLOW": "uflow"}
MVTEC = {"bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut", "pill", "screw",
         "tile", "toothbrush", "transistor", "wood", "zipper"}
CAPTION_METRICS = {"Image Level AUROC": "image_AUROC", "Pixel Level AUROC": "pixel_AUROC",
                   "Pixel Level PRO": "pixel_PRO"}


def seed_tables() -> dict[str, tuple[str, dict[tuple[str, str], float | None]]]:
    """metric → (caption without its citation mark, {(model, category): percent or None for "-"}), parsed
    from the study's text: tab-separated tables headed "Method", each followed by its "Table:" caption."""
    lines = SEED.read_text(encoding="utf-8").splitlines()
    tables = {}
    for start, line in enumerate(lines):
        if not line.startswith("Method\t"):
            continue
        categories = [name.strip().lower().replace(" ", "_") for name in line.split("\t")[1:]]
        cells, end = {}, start + 1
        while lines[end].strip():
            label, *texts = lines[end].split("\t")
            assert len(texts) == len(categories), lines[end]
            for category, text in zip(categories, texts):
                text = re.sub(r"</?b>", "", text).strip()
                cells[(MODELS[label.strip()], category)] = None if text == "-" else float(text)
            end += 1
        caption = next(text for text in lines[end:] if text.startswith("Table:"))
        caption = " ".join(re.sub(r"\[\d+\]", "", caption.removeprefix("Table:")).split())
        metric = next(metric for prefix, metric in CAPTION_METRICS.items() if caption.startswith(prefix))
        tables[metric] = (caption, cells)
    return tables


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    return read_references([STUDY_FILE])


@pytest.fixture(scope="module")
def seed():
    if not SEED.exists():
        pytest.skip(f"the study's text is not at {SEED} (it lives in shared/ beside the repository)")
    return seed_tables()


def test_study_file_has_every_cell_of_the_study(study, seed):
    assert set(seed) == {"image_AUROC", "pixel_AUROC", "pixel_PRO"}
    assert len(study) == sum(len(cells) for _, cells in seed.values()) == 15 * 15 * 3
    assert set(study["source"]) == {STUDY_SOURCE}
    assert set(study["dataset"]) == {"mvtec_ad"}
    for metric, (caption, cells) in seed.items():
        rows = study[study["metric"] == metric].set_index(["model", "category"])
        assert set(rows.index) == set(cells)
        assert set(rows["table"]) == {caption}
        for key, expected in cells.items():
            row = rows.loc[key]
            if expected is None:
                assert math.isnan(row["value"]) and NOT_REPORTED in row["note"], (metric, key)
            else:
                assert round(100 * row["value"], 2) == expected, (metric, key, row["value"])
                assert NOT_REPORTED not in row["note"], (metric, key)
        if metric == "pixel_PRO":  # the study's PRO is anomalib 1.x's thresholded PRO, not AU-PRO
            assert rows["note"].str.contains("threshold 0.5 of min-max normalised maps").all()


def test_study_file_row_and_column_sums(study, seed):
    """Sums per model (the tables' rows) and per category (their columns) agree, "-" counting as nothing."""
    for metric, (_, cells) in seed.items():
        rows = study[study["metric"] == metric]
        for axis, position in (("model", 0), ("category", 1)):
            expected: dict[str, float] = {}
            for key, value in cells.items():
                expected[key[position]] = expected.get(key[position], 0.0) + (value or 0.0)
            ours = (100 * rows.groupby(axis)["value"].sum()).round(2).to_dict()
            assert ours == pytest.approx(expected, abs=1e-6), (metric, axis)


def test_study_file_names():
    frame = read_references([STUDY_FILE])
    assert set(frame["model"]) == set(MODELS.values())
    assert set(frame["category"]) == MVTEC
    assert frame["value"].isna().sum() == 1 + 2 * 3 * 15  # RKDE carpet; DFKDE, GANomaly, RKDE pixel tables


def test_every_reference_file_reads_and_uses_our_names():
    frame = read_references(reference_files(REFERENCE_DIR))
    assert {path.name for path in reference_files(REFERENCE_DIR)} >= {
        "study_mvtec_ad.csv", "anomalib_mvtec_ad.csv", "papers_mvtec_ad.csv"}
    assert list(frame.columns[:len(REFERENCE_COLUMNS)]) == list(REFERENCE_COLUMNS)
    assert set(frame["category"]) <= MVTEC | {MEAN_CATEGORY}
    assert set(frame["model"]) <= set(MODELS.values())
    assert set(frame["metric"]) <= set(metric_names("image") + metric_names("pixel"))
    # Numbers of another setting say so (ADer's are multi-class unified): never set beside one-class rows.
    assert set(frame.loc[frame["source_kind"] == "ader", "setting"]) == {"unified"}
    assert set(frame.loc[frame["source_kind"] != "ader", "setting"]) == {""}
    assert frame["source"].str.strip().ne("").all() and frame["table"].str.strip().ne("").all()
    # A cell without a number says so.
    assert frame.loc[frame["value"].isna(), "note"].str.contains(NOT_REPORTED).all()


def test_reference_tables_are_whole():
    """Each transcribed table (model × variant × metric × source × table) gives all 15 categories or none."""
    frame = read_references(reference_files(REFERENCE_DIR))
    for key, group in frame.groupby(["model", "variant", "metric", "source", "table"]):
        categories = set(group["category"]) - {MEAN_CATEGORY}
        assert categories in (set(), MVTEC), key


def test_papers_keep_the_patchcore_table_1_rows():
    frame = read_references([REFERENCE_DIR / "papers_mvtec_ad.csv"])
    rows = frame[(frame["model"] == "patchcore") & frame["table"].str.startswith("Table 1")]
    assert dict(zip(rows["variant"], rows["value"])) == {
        "PatchCore-25% (WRN-50)": 0.991, "PatchCore-10% (WRN-50)": 0.990, "PatchCore-1% (WRN-50)": 0.990}
    assert set(rows["category"]) == {MEAN_CATEGORY}


def test_anomalib_file_cites_readmes():
    frame = read_references([REFERENCE_DIR / "anomalib_mvtec_ad.csv"])
    assert frame["source"].str.fullmatch(r"anomalib [0-9a-f]{12} src/anomalib/models/image/\w+/README\.md").all()
    assert frame["value"].notna().all()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


HEADER = "dataset,category,model,variant,metric,value,source,table\n"


def test_old_file_without_category_reads_as_means(tmp_path):
    old = write(tmp_path / "old.csv", "dataset,model,variant,metric,value,source,table\n"
                "mvtec_ad,patchcore,v,image_AUROC,0.991,paper,Table 1\n")
    frame = read_references([old])
    assert frame.loc[0, "category"] == MEAN_CATEGORY and frame.loc[0, "note"] == ""
    assert frame.loc[0, "value"] == pytest.approx(0.991)


def test_missing_column_names_the_file(tmp_path):
    bad = write(tmp_path / "bad.csv", "dataset,model,metric,value\nmvtec_ad,padim,image_AUROC,0.9\n")
    with pytest.raises(ValueError, match=r"bad\.csv.*lacks columns \['variant', 'source', 'table'\]"):
        read_references([bad])


@pytest.mark.parametrize("value", ["98.1", "-0.1", "1.5", "nan", "n/a"])
def test_value_outside_unit_interval_names_file_and_line(tmp_path, value):
    bad = write(tmp_path / "bad.csv", HEADER + "mvtec_ad,bottle,padim,v,image_AUROC,0.9,s,t\n"
                f"mvtec_ad,cable,padim,v,image_AUROC,{value},s,t\n")
    with pytest.raises(ValueError, match=r"bad\.csv, line 3: value"):
        read_references([bad])


def test_empty_value_is_not_reported_and_extra_columns_pass_through(tmp_path):
    first = write(tmp_path / "a.csv", HEADER.strip() + ",source_kind\n"
                  "mvtec_ad,bottle,padim,v,pixel_AUROC,,s,t,study\n")
    second = write(tmp_path / "b.csv", HEADER + "mvtec_ad,bottle,padim,v,pixel_AUROC,1,s2,t\n")
    frame = read_references([first, second])
    assert math.isnan(frame.loc[0, "value"]) and frame.loc[1, "value"] == 1.0
    assert list(frame["source_kind"]) == ["study", ""]


def test_same_cell_twice_is_an_error(tmp_path):
    row = "mvtec_ad,bottle,padim,v,pixel_AUROC,0.9,s,t\n"
    first, second = write(tmp_path / "a.csv", HEADER + row), write(tmp_path / "b.csv", HEADER + row)
    with pytest.raises(ValueError, match=r"given twice.*a\.csv, line 2; .*b\.csv, line 2"):
        read_references([first, second])


def test_no_files_give_an_empty_frame():
    frame = read_references([])
    assert list(frame.columns) == list(REFERENCE_COLUMNS) and frame.empty


def test_study_audit_cells_on_the_study(study):
    audit = study_audit_cells(study)
    assert list(audit.columns) == ["dataset", "category", "model", "image_AUROC", "pixel_AUROC", "pixel_PRO",
                                   "kind", "reason"]
    assert not audit["reason"].str.contains("implausible|contradict").any()
    cells = audit.set_index(["model", "category"])
    capsule = cells.loc[("cfa", "capsule")]
    assert capsule["pixel_AUROC"] == pytest.approx(0.1496) and capsule["pixel_PRO"] == pytest.approx(1.0)
    assert capsule["kind"] == SATURATED and "threshold-saturated PRO" in capsule["reason"]
    # Every CFA category but grid, screw, pill, toothbrush: pixel AUROC below chance with PRO of about 100%: the
    # F1-optimal threshold sits near the bottom of such maps (explained, not called implausible).
    saturated = audit[audit["kind"].str.contains(SATURATED)]
    assert set(saturated["model"]) == {"cfa"}
    assert set(saturated["category"]) == MVTEC - {"grid", "screw", "pill", "toothbrush"}
    constant = audit[audit["kind"].str.contains(DEGENERATE)]
    assert set(zip(constant["model"], constant["category"])) == {
        ("cfa", "carpet"), ("cfa", "bottle"), ("cfa", "leather")}
    assert "image AUROC exactly 50%" in cells.loc[("cfa", "bottle"), "reason"]
    assert not audit["model"].isin(["dfkde", "ganomaly", "rkde"]).any()  # not-reported PRO never triggers


def test_each_audit_rule_alone():
    def cell(category, image, pixel, pro):
        return [{"dataset": "d", "category": category, "model": "m", "variant": "", "metric": metric,
                 "value": value, "source": STUDY_SOURCE, "table": "t", "note": ""}
                for metric, value in (("image_AUROC", image), ("pixel_AUROC", pixel), ("pixel_PRO", pro))]

    frame = pd.DataFrame([*cell("a", 0.9, 0.45, 0.92),   # below chance, PRO high: saturated
                          *cell("b", 0.9, 0.55, 0.995),  # PRO ~ 1 with pixel AUROC < 0.6: saturated
                          *cell("c", 0.5, 0.9, 0.5),     # a constant image score
                          *cell("d", 0.9, 0.45, 0.85),   # below chance, PRO not saturated: nothing to say
                          *cell("f", 0.9, 0.65, 1.0),    # a fair pixel AUROC: PRO 100 may be real
                          *cell("e", 0.9, math.nan, math.nan)])
    audit = study_audit_cells(frame).set_index("category")
    assert audit["kind"].to_dict() == {"a": SATURATED, "b": SATURATED, "c": DEGENERATE}
    assert audit.loc["c", "reason"] == "image AUROC exactly 50% (a constant score)"
    other_source = frame.assign(source="a paper")
    assert study_audit_cells(other_source).empty
