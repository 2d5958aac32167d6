import pandas as pd
import pytest

from iadbench.results.rows import RowError, aggregate, make_row, merge_rows, read_rows, write_row


def row(model="padim", seed=0, auroc=0.5, when="2026-01-01", **extra):
    return make_row({"dataset": "embedded", "category": "washer", "model": model, "seed": seed, "status": "ok",
                     "image_AUROC": auroc, "finished_at": pd.Timestamp(when, tz="UTC"), **extra})


def test_row_follows_schema_order_and_types():
    frame = row(pixel_AUPRO_05=0.2)
    assert list(frame.columns[:5]) == ["setting", "dataset", "category", "model", "seed"]
    assert frame["seed"].dtype == "int64" and frame["image_AUROC"].dtype == "float64"
    assert frame.columns[-1] == "pixel_AUPRO_05"
    assert pd.isna(frame["pixel_AUROC"].item())


def test_unknown_and_missing_columns_are_errors():
    with pytest.raises(RowError, match="auroc"):
        make_row({"dataset": "d", "category": "c", "model": "m", "seed": 0, "status": "ok", "auroc": 1.0})
    with pytest.raises(RowError, match="seed"):
        make_row({"dataset": "d", "category": "c", "model": "m", "status": "ok"})


def test_merge_keeps_newest_per_key(tmp_path):
    old, new, other = row(auroc=0.1, when="2026-01-01"), row(auroc=0.9, when="2026-02-01"), row(model="dfm")
    merged = merge_rows(pd.concat([new, old, other], ignore_index=True))
    assert len(merged) == 2
    assert merged.set_index("model").loc["padim", "image_AUROC"] == 0.9


def test_aggregate_roundtrip(tmp_path):
    paths = []
    for index, frame in enumerate([row(), row(model="dfm", auroc=0.7)]):
        paths.append(tmp_path / f"{index}.parquet")
        write_row(frame, paths[-1])
    merged = aggregate(paths, tmp_path / "benchmark.parquet")
    assert read_rows([tmp_path / "benchmark.parquet"]).equals(merged)


def test_unreadable_row_names_file(tmp_path):
    broken = tmp_path / "row.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(RowError, match="row.parquet"):
        read_rows([broken])


def test_metric_columns_are_metrics_only():
    from iadbench.results.rows import metric_columns

    columns = ["seed", "image_AUROC", "image_AUROC_ci_low", "pixel_AUPRO_05", "pixel_AUPRO_05_ci_high",
               "pixel_AUPRO_ci_high", "frame_AUROC", "status"]
    assert metric_columns(columns) == ["image_AUROC", "frame_AUROC", "pixel_AUPRO_05"]
    assert metric_columns(columns, frame_metrics=False) == ["image_AUROC", "pixel_AUPRO_05"]


def test_make_rows_is_make_row_for_many():
    from iadbench.results.rows import make_rows

    rows = [{"dataset": "d", "category": "c", "model": "m", "seed": seed, "status": "ok", "image_AUROC": 0.5 + seed / 10,
             "pixel_AUPRO_05": 0.1} for seed in range(3)] + [{"dataset": "d", "category": "c", "model": "m", "seed": 3,
                                                              "status": "failed"}]
    together = make_rows(rows)
    one_by_one = pd.concat([make_row(row) for row in rows], ignore_index=True)
    pd.testing.assert_frame_equal(together, one_by_one[together.columns])
    with pytest.raises(RowError, match="outside the schema"):
        make_rows([*rows, {**rows[0], "typo": 1}])


def test_a_selection_of_metric_columns_names_only_columns_of_the_one_table():
    from iadbench.results.columns import metric_columns_named

    assert metric_columns_named("image_AUROC", "pixel_PRO") == ("image_AUROC", "pixel_PRO")
    with pytest.raises(ValueError, match=r"\['image_AUROCC'\]"):
        metric_columns_named("image_AUROC", "image_AUROCC")
