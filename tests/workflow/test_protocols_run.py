"""config/protocols.yaml end to end: each miniature dataset scored with its own protocol and an operating point."""

import numpy as np
import pandas as pd
import pytest


@pytest.mark.slow
def test_each_dataset_gets_its_protocol_and_an_operating_point(finished_protocols_run):
    rows = pd.read_parquet(finished_protocols_run / "results" / "benchmark.parquet").set_index("dataset")
    assert (rows["status"] == "ok").all(), rows["error_tail"].tolist()
    for metric in ("image_precision", "image_recall", "image_FPR", "image_F1", "image_threshold"):
        assert rows[metric].notna().all(), metric
    assert rows.loc["mvtec_loco", "op_source"] == "validation" and rows.loc["mvtec_ad_2", "op_source"] == "validation"
    assert rows.loc["real_iad", "op_source"] == "train_holdout" and rows.loc["real_iad", "op_n_images"] == 5
    assert (rows["op_calibration_FPR"] <= 0.05).all()
    loco = rows.loc["mvtec_loco"]
    for group in ("logical", "structural", "mean"):
        assert 0 <= loco[f"pixel_AUsPRO_05_{group}"] <= 1 and 0 <= loco[f"image_AUROC_{group}"] <= 1
    assert loco["pixel_AUsPRO_05_mean"] == pytest.approx(
        (loco["pixel_AUsPRO_05_logical"] + loco["pixel_AUsPRO_05_structural"]) / 2)
    assert np.isnan(rows.loc["real_iad", "pixel_AUsPRO_05_mean"])  # LOCO's columns only for LOCO
    ad2 = rows.loc["mvtec_ad_2"]
    assert 0 <= ad2["pixel_AUPRO_05"] <= 1 and 0 <= ad2["pixel_SegF1"] <= 1 and np.isfinite(ad2["pixel_SegF1_threshold"])
    real_iad = rows.loc["real_iad"]
    assert 0 <= real_iad["image_AUROC_sample"] <= 1 and real_iad["n_samples"] == 6


@pytest.mark.slow
def test_mvtec_ad_2_private_sets_are_exported_for_the_server(finished_protocols_run):
    import tifffile
    from PIL import Image

    folder = finished_protocols_run / "results/train/one_class/mvtec_ad_2/can/padim/0/mvtec_ad_2_submission"
    tiffs = sorted((folder / "anomaly_images" / "can").rglob("*.tiff"))
    pngs = sorted((folder / "anomaly_images_thresholded" / "can").rglob("*.png"))
    assert [path.parent.name for path in tiffs] == ["test_private"] * 3 + ["test_private_mixed"] * 3
    assert [path.stem for path in tiffs] == [path.stem for path in pngs]
    assert tifffile.imread(tiffs[0]).dtype == np.float16 and tifffile.imread(tiffs[0]).shape == (32, 32)
    assert set(np.unique(np.asarray(Image.open(pngs[0])))) <= {0, 255}


@pytest.mark.slow
def test_report_tables_follow_each_protocol(finished_protocols_run):
    latex = (finished_protocols_run / "results" / "report" / "tables.tex").read_text()
    html = (finished_protocols_run / "results" / "report" / "index.html").read_text()
    for text in (latex, html):
        assert "AU-sPRO (FPR ≤ 0.05), mean of logical and structural" in text or "AU-sPRO" in text
        assert "Sample AUROC" in text and "SegF1" in text and "operating point" in text
    assert "oracle" in html
