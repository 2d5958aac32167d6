"""A job's predictions: collected from anomalib's predict batches (images, or video clips' frames), saved as
``.npz`` and read back by the evaluation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from iadbench.core.files import atomic_write

EMPTY = np.zeros(0, dtype=np.float32)


def save_predictions(path: Path, predictions: dict[str, np.ndarray]) -> None:
    def write(temporary: Path) -> None:
        with open(temporary, "wb") as handle:
            np.savez(handle, **predictions)

    atomic_write(path, write)


def load_predictions(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _as_numpy(value) -> np.ndarray | None:
    if value is None:
        return None
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def collect_predictions(batches, mask_path_of: dict[str, str]) -> dict[str, np.ndarray]:
    """Stack anomalib prediction batches into flat arrays (maps absent for non-pixel models).

    Mask paths come from ``mask_path_of`` (image path → mask path, "" for defect-free images):
    anomalib's collate drops the ``None`` mask paths of good images, misaligning the batch's list.
    """
    scores, labels, maps, masks, image_paths = [], [], [], [], []
    for batch in batches:
        count = len(batch.image_path)
        scores.append(_as_numpy(batch.pred_score).reshape(count).astype(np.float64))
        labels.append(_as_numpy(batch.gt_label).reshape(count).astype(np.uint8))
        image_paths.extend(str(path) for path in batch.image_path)
        if batch.anomaly_map is not None:
            anomaly_map = _as_numpy(batch.anomaly_map).astype(np.float32)
            maps.append(anomaly_map.reshape(count, *anomaly_map.shape[-2:]))
        if batch.gt_mask is not None:
            mask = _as_numpy(batch.gt_mask)
            masks.append((mask.reshape(count, *mask.shape[-2:]) > 0).astype(np.uint8))
    return {
        "scores": np.concatenate(scores),
        "labels": np.concatenate(labels),
        "maps": np.concatenate(maps) if maps else EMPTY,
        "masks": np.concatenate(masks) if masks else EMPTY.astype(np.uint8),
        "image_paths": np.asarray(image_paths, dtype=str),
        "mask_paths": np.asarray([mask_path_of.get(path, "") for path in image_paths], dtype=str),
    }


def predict_to(engine, model, datamodule, path: Path, attached: bool = True) -> tuple[dict[str, np.ndarray], float]:
    """Predict ``datamodule``'s test set, save the predictions to ``path``; returns them and the seconds
    the prediction took. ``attached``: the datamodule the engine fitted on; else Lightning sets it up for
    this model (its images resized as the model's pre-processor says) before predicting."""
    started = time.perf_counter()
    if attached:
        batches = engine.predict(model=model, dataloaders=datamodule.test_dataloader(), return_predictions=True)
    else:
        batches = engine.predict(model=model, datamodule=datamodule, return_predictions=True)
    seconds = time.perf_counter() - started
    samples = datamodule.test_data.samples
    mask_path_of = {str(image): mask if isinstance(mask, str) else "" for image, mask in zip(samples.image_path, samples.mask_path)}
    predictions = collect_predictions(batches, mask_path_of)
    if "defect_type" in samples:  # readers that know each image's defect type (evaluate.score_table)
        defect_of = dict(zip(samples.image_path.astype(str), samples.defect_type.astype(str), strict=True))
        predictions["defect_types"] = np.asarray([defect_of.get(str(p), "") for p in predictions["image_paths"]],
                                                 dtype=str)
    save_predictions(path, predictions)
    return predictions, seconds


def predict_video_to(engine, model, datamodule, path: Path) -> tuple[dict[str, np.ndarray], float]:
    """:func:`predict_to` for a video job: one entry per test frame, each frame scored exactly once
    (:func:`assemble_video_predictions`), plus ``video_ids`` and ``frame_indices``."""
    started = time.perf_counter()
    batches = engine.predict(model=model, dataloaders=datamodule.test_dataloader(), return_predictions=True)
    seconds = time.perf_counter() - started
    predictions = assemble_video_predictions(batches, datamodule.test_data)
    save_predictions(path, predictions)
    return predictions, seconds


def _frame_files(video_path: str) -> list[Path]:
    folder = Path(video_path)
    if not folder.is_dir():
        return []
    return sorted(file for file in folder.iterdir() if file.suffix.lower() in (".tif", ".jpg", ".png", ".bmp"))


def assemble_video_predictions(batches, dataset) -> dict[str, np.ndarray]:
    """Per-frame predictions of a video test set whose clips (stride 1) each score their last frame.

    The rule: frame ``f`` of a video gets the score and map of the clip ending at ``f``; its first
    ``clip_length - 1`` frames, which no clip ends at, get those of the video's first clip (the nearest
    one), with their own labels and masks. Frames are ordered by video (the dataset's order), then frame
    index; an error names a video whose frames are not each scored exactly once.
    """
    from anomalib.data.datasets.base.video import VideoTargetFrame

    indexer = dataset.indexer
    clips: dict[tuple[str, int], dict[str, Any]] = {}
    for batch in batches:
        count = len(batch.video_path)
        scores = _as_numpy(batch.pred_score).reshape(count).astype(np.float64)
        labels = _as_numpy(batch.gt_label).reshape(count).astype(np.uint8)
        frames = _as_numpy(batch.frames).reshape(count).astype(int)
        maps = _as_numpy(batch.anomaly_map)
        masks = _as_numpy(batch.gt_mask)
        for index in range(count):
            key = (str(batch.video_path[index]), int(frames[index]))
            if key in clips:
                raise ValueError(f"frame {key[1]} of {key[0]} was scored twice")
            clips[key] = {"score": scores[index], "label": labels[index],
                          "map": None if maps is None else maps[index].reshape(maps.shape[-2:]).astype(np.float32),
                          "mask": None if masks is None else masks[index].reshape(masks.shape[-2:]) > 0}
    length = dataset.clip_length_in_frames
    rows: list[dict[str, Any]] = []
    for video_index, video_path in enumerate(indexer.video_paths):
        n_frames = len(indexer.video_pts[video_index])
        first_clip = int(indexer.cumulative_sizes[video_index - 1]) if video_index else 0
        head = None
        if length > 1:  # the first clip's every frame: labels and masks of the frames no clip ends at
            target, dataset.target_frame = dataset.target_frame, VideoTargetFrame.ALL
            try:
                head = dataset[first_clip]
            finally:
                dataset.target_frame = target
        files, masks_dir = _frame_files(video_path), _frame_files(indexer.mask_paths[video_index] or "")
        scored = sorted(frame for path, frame in clips if path == video_path)
        if scored != list(range(length - 1, n_frames)):
            raise ValueError(f"{video_path}: clips end at frames {scored[:3]}...{scored[-3:]}, expected every frame "
                             f"from {length - 1} to {n_frames - 1} once")
        for frame in range(n_frames):
            clip = dict(clips[(video_path, max(frame, length - 1))])
            if frame < length - 1 and head is not None:
                clip["label"] = int(np.asarray(head.gt_label).reshape(-1)[frame]) if head.gt_label is not None else 0
                clip["mask"] = None if head.gt_mask is None else _as_numpy(head.gt_mask)[frame] > 0
            rows.append({**clip, "video": Path(video_path).stem, "frame": frame,
                         "image": str(files[frame]) if len(files) == n_frames else f"{video_path}#{frame}",
                         "mask_path": str(masks_dir[frame]) if len(masks_dir) == n_frames else ""})
    with_maps = all(row["map"] is not None for row in rows)
    with_masks = all(row["mask"] is not None for row in rows)
    return {
        "scores": np.asarray([row["score"] for row in rows], dtype=np.float64),
        "labels": np.asarray([row["label"] for row in rows], dtype=np.uint8),
        "maps": np.stack([row["map"] for row in rows]) if with_maps and rows else EMPTY,
        "masks": np.stack([row["mask"] for row in rows]).astype(np.uint8) if with_masks and rows else EMPTY.astype(np.uint8),
        "image_paths": np.asarray([row["image"] for row in rows], dtype=str),
        "mask_paths": np.asarray([row["mask_path"] for row in rows], dtype=str),
        "video_ids": np.asarray([row["video"] for row in rows], dtype=str),
        "frame_indices": np.asarray([row["frame"] for row in rows], dtype=np.int64),
    }
