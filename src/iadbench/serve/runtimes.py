"""The runtimes an exported model is checked in: torch, ONNX Runtime, OpenVINO; and the export to each format."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def torch_runner(model) -> Callable[[Any], dict[str, Any]]:
    import torch

    def run(image):
        with torch.inference_mode():
            output = model(image)
        return {name: value.detach().cpu().numpy() for name, value in output._asdict().items()
                if value is not None and hasattr(value, "detach")}

    return run


def onnx_runner(path: Path, threads: int) -> Callable[[Any], dict[str, Any]]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    names = [output.name for output in session.get_outputs()]

    def run(image):
        return dict(zip(names, session.run(names, {input_name: image.numpy()}), strict=True))

    return run


def openvino_runner(path: Path, threads: int) -> Callable[[Any], dict[str, Any]]:
    import openvino

    core = openvino.Core()
    # f32 inference: on CPUs with bf16 units OpenVINO would otherwise lower the precision by default.
    compiled = core.compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                     "INFERENCE_NUM_THREADS": threads})
    request = compiled.create_infer_request()
    outputs = [(output, output.get_any_name()) for output in compiled.outputs]

    def run(image):
        result = request.infer({0: image.numpy()})
        return {name: np.array(result[output]) for output, name in outputs}

    return run


def _export(model, out_dir: Path, fmt: str, input_size: tuple[int, int], static_batch: bool = False) -> Path:
    """anomalib's exporter into a scratch folder; the files land in ``out_dir`` (model.onnx, openvino/).

    anomalib exports a dynamic batch axis by default; ``static_batch`` fixes the batch at 1 instead (no
    dynamic axes: dynamo traces the one-image example)."""
    onnx_kwargs = {"dynamic_axes": {}} if static_batch else {}
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        if fmt == "onnx":
            produced = Path(model.to_onnx(scratch, input_size=input_size, **onnx_kwargs))
            return _single_file_onnx(produced, out_dir / "model.onnx")
        produced = Path(model.to_openvino(scratch, input_size=input_size, onnx_kwargs=onnx_kwargs))
        target_dir = out_dir / "openvino"
        shutil.rmtree(target_dir, ignore_errors=True)
        target_dir.mkdir()
        for suffix in (".xml", ".bin"):
            shutil.move(produced.with_suffix(suffix), target_dir / f"model{suffix}")
        return target_dir / "model.xml"


def _single_file_onnx(produced: Path, target: Path) -> Path:
    """The dynamo exporter keeps weights in ``model.onnx.data`` beside the graph: one self-contained file
    instead (ONNX's 2 GB protobuf limit permitting; a larger model keeps ``model.onnx.data``)."""
    import onnx

    graph = onnx.load(str(produced))  # reads the external data too
    for stale in (target, target.with_name(target.name + ".data")):
        stale.unlink(missing_ok=True)
    if graph.ByteSize() < 2**31 - 2**20:
        onnx.save(graph, str(target))
    else:
        onnx.save(graph, str(target), save_as_external_data=True, location=target.name + ".data")
    return target
