"""The per-model tables of docs/models.md, generated from the model specs (a test checks they are current).

``python -m iadbench.models.docs docs/models.md`` rewrites the text between the markers.
"""

from __future__ import annotations

import sys
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


def generated_section() -> str:
    return f"{BEGIN}\n\n{models_table()}\n\n### Image sizes\n\n{image_sizes_table()}\n\n{END}"


def render(document: str) -> str:
    """``document`` with its generated section replaced by the current one."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no generated section ({BEGIN!r} ... {END!r})")
    return document[:start] + generated_section() + document[end + len(END):]


if __name__ == "__main__":
    path = Path(sys.argv[1])
    path.write_text(render(path.read_text()))
