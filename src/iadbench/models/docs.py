"""The per-model tables of docs/models.md, generated from the model specs (a test checks they are current).

``python -m iadbench.models.docs docs/models.md`` rewrites the text between the markers.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from iadbench.models.specs import MEMORY_CLASS_MB, MODEL_SPECS

BEGIN = "<!-- generated from src/iadbench/models/specs.py: python -m iadbench.models.docs docs/models.md -->"
END = "<!-- end of generated tables -->"
NONE = "–"


def _cell(text: str) -> str:
    return (text or NONE).replace("|", "\\|")


def models_table() -> str:
    lines = [("| config name | in tables | task type | default backbone | needs with `pretrained` | "
             "what `random` changes | cluster request (1st attempt) | memory (tiny run) |"),
             "|---|---|---|---|---|---|---|---|"]
    for spec in MODEL_SPECS.values():
        request = f"{MEMORY_CLASS_MB[spec.memory_class] // 1000} GB, {spec.runtime_minutes} min ({spec.memory_class})"
        lines.append("| " + " | ".join([
            f"`{spec.name}`" + (" (study)" if spec.study else ""), spec.display_name, _cell(spec.task_type or ""),
            _cell(spec.backbone), _cell(spec.pretrained_loads), _cell(spec.random_weights), request,
            _cell(spec.tiny_run_memory)]) + " |")
    return "\n".join(lines)


def image_sizes_table() -> str:
    lines = ["| model | smallest image size | rule |", "|---|---|---|"]
    for spec in MODEL_SPECS.values():
        if spec.image_size_rule:
            lines.append(f"| `{spec.name}` | {spec.minimum_image_size} px | {_cell(spec.image_size_rule)} |")
    return "\n".join(lines)


# Package data (a link to docs/export_support.csv in the checkout, copied into the wheel by setuptools).
EXPORT_SUPPORT = Path(str(resources.files("iadbench.models") / "export_support.csv"))


def export_support_table(path: Path = EXPORT_SUPPORT) -> str:
    """The export survey (benchmarks/export_survey.py → docs/export_support.csv) as a Markdown table."""
    import csv

    with open(path, newline="") as handle:
        lines = list(csv.DictReader(handle))
    order = {name: index for index, name in enumerate(MODEL_SPECS)}
    table = ["| model | ONNX | OpenVINO | batch axis | max \\|Δ score\\| | max \\|Δ map\\| | why it fails |",
             "|---|---|---|---|---|---|---|"]
    for line in sorted(lines, key=lambda line: order.get(line["model"], len(order))):
        failing: dict[str, list[str]] = {}  # reason -> the formats failing with it
        for fmt in ("onnx", "openvino"):
            if line[fmt] != "ok" and line[fmt + "_reason"]:
                failing.setdefault(line[fmt + "_reason"], []).append(fmt)
        reasons = "; ".join(f"{', '.join(formats)}: {reason}" for reason, formats in failing.items())
        table.append("| " + " | ".join([f"`{line['model']}`", line["onnx"], line["openvino"], _cell(line["batch"]),
                                        _cell(line["max_abs_delta_score"]), _cell(line["max_abs_delta_map"]),
                                        _cell(reasons)]) + " |")
    first = lines[0] if lines else {}
    note = (f"Measured {first.get('measured', '?')} with anomalib {first.get('anomalib_version', '?')}, torch "
            f"{first.get('torch_version', '?')}, onnxruntime {first.get('onnxruntime_version', '?')}, OpenVINO "
            f"{first.get('openvino_version', '?')} (`docs/export_support.csv`).")
    return "\n".join(table) + "\n\n" + note


def generated_section() -> str:
    return (f"{BEGIN}\n\n{models_table()}\n\n### Image sizes\n\n{image_sizes_table()}\n\n### Export (ONNX, OpenVINO)\n\n"
            f"{export_support_table()}\n\n{END}")


def render(document: str) -> str:
    """``document`` with its generated section replaced by the current one."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no generated section ({BEGIN!r} ... {END!r})")
    return document[:start] + generated_section() + document[end + len(END):]


if __name__ == "__main__":
    path = Path(sys.argv[1])
    path.write_text(render(path.read_text()))
