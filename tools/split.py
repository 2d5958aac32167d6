"""Issue #23's module splits: top-level definitions moved out of an oversized module into new modules.

Re-runnable after a merge (take the incoming version of the oversized module, run this again): a name already
moved is skipped. Then run tools/relayout.py, whose NAMES table sends every ``from old import name`` to the new
module, and ruff, which sorts the imports:

    python tools/split.py && python tools/relayout.py && ruff check --fix src tests

Each new module gets the docstring below and the source module's import block (ruff drops the unused ones);
the source module imports back what it still uses of the moved names.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "iadbench"

# source module -> [(new module, docstring, names)], in the order they are cut out.
SPLITS: dict[str, list[tuple[str, str, list[str]]]] = {
    "serve.publish": [
        ("serve.upload", ("Uploading the folders `snakemake publish` wrote to the Hugging Face Hub: the token, "
                          "the files, one repo per folder."),
         ["hub_token", "_files", "upload", "upload_main", "add_upload_arguments", "run_upload", "__main__"]),
    ],
    "serve.export": [
        ("serve.runtimes", ("The runtimes an exported model is checked in: torch, ONNX Runtime, OpenVINO; and "
                            "the export to each format."),
         ["torch_runner", "onnx_runner", "openvino_runner", "_export", "_single_file_onnx"]),
    ],
    "stats.uncertainty": [
        ("stats.paired", ("Paired comparisons of two models on the same test images: DeLong's test, the "
                          "paired bootstrap, Holm's correction."),
         ["_delong_components", "delong_test", "bootstrap_p", "PairedComparison", "paired_bootstrap", "holm"]),
    ],
    "metrics.measures": [
        ("metrics.checks", "Input checks of the metrics: finite scores, image stacks, maps beside masks, FPR limits.",
         ["_CHUNK_SIZE", "_check_real", "_image_stack", "_maps_and_masks", "_score_label_blocks",
          "_check_fpr_limits"]),
        ("metrics.ranks", ("The one-sort engine under every metric: scores sorted once (in chunks of bounded "
                           "memory), then one sweep gives AUROC, AP, F1-max and the PRO curve's areas."),
         ["_EIGHT_CONNECTED", "_LOW_HALF", "_SIGN_BIT", "_MAX_POSITIVE_BITS", "_EXACT_IN_FLOAT32",
          "_Statistics", "_GroundTruthCodes", "_pixel_statistics", "_rank_statistics", "_check_scores",
          "_descending_keys", "_score_of_key", "_sorted_keys", "_key_chunks", "_float64_scores_and_codes",
          "_argsort_chunks", "_sweep", "_add_pro_areas"]),
        ("metrics.maps", "The F1-optimal threshold of image scores, and anomaly maps resized to the masks' size.",
         ["f1_optimal_threshold", "resize_maps_to", "_linear_taps"]),
        ("metrics.continual", "The continual setting's summary of an accuracy matrix: ACC, FM, BWT.",
         ["continual_summary", "_task_list"]),
    ],
}


def top_level(tree: ast.Module) -> dict[str, ast.stmt]:
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found[node.name] = node
        elif isinstance(node, ast.Assign):
            found |= {target.id: node for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node
        elif isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):  # the module's main block
            found["__main__"] = node
    return found


def import_block(text: str) -> str:
    tree = ast.parse(text)
    return "\n".join(ast.get_source_segment(text, node) for node in tree.body
                     if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "module", None) != "__future__")


def cut(source: Path, target: Path, module: str, docstring: str, names: list[str]) -> list[str]:
    text = source.read_text()
    lines = text.splitlines(keepends=True)
    nodes = top_level(ast.parse(text))
    present = [name for name in names if name in nodes]
    if not present:
        return []
    spans = sorted({(min([nodes[name].lineno] + [d.lineno for d in getattr(nodes[name], "decorator_list", [])]) - 1,
                     nodes[name].end_lineno) for name in present})
    chunks: list[tuple[int, int, str]] = []  # (start, end, text); constants that stood together stay together
    for start, end in reversed(spans):
        while start > 0 and lines[start - 1].lstrip().startswith("#"):  # its comment lines go with it
            start -= 1
        text_of = "".join(lines[start:end]).rstrip("\n")
        if chunks and chunks[0][0] == end:
            chunks[0] = (start, chunks[0][1], text_of + "\n" + chunks[0][2])
        else:
            chunks.insert(0, (start, end, text_of))
        del lines[start:end]
    chunks = [chunk for _, _, chunk in chunks]
    text = re.sub(r"\n{4,}", "\n\n\n", "".join(lines))
    # a section header whose whole section moved out (followed by another header, or nothing)
    text = re.sub(r"\n# [^\n]*-{10,}\n+(?=# [^\n]*-{10,}\n|\Z)", "\n", text).rstrip("\n") + "\n"
    source.write_text(text)
    if target.exists():
        target.write_text(target.read_text().rstrip("\n") + "\n\n\n" + "\n\n\n".join(chunks) + "\n")
    else:
        docstring = textwrap.fill(docstring, 107)
        target.write_text(f'"""{docstring}"""\n\nfrom __future__ import annotations\n\n{import_block(text)}\n\n\n'
                          + "\n\n\n".join(chunks) + "\n")
    return present


def undefined_names(path: Path) -> set[str]:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F821", "--output-format", "json",
                           str(path)], capture_output=True, text=True, cwd=ROOT, check=False)
    return {re.search(r"`([^`]+)`", item["message"]).group(1) for item in json.loads(done.stdout or "[]")}


def main() -> int:
    for source_module, parts in SPLITS.items():
        source = PKG / (source_module.replace(".", "/") + ".py")
        moved: dict[str, str] = {}
        for module, docstring, names in parts:
            target = PKG / (module.replace(".", "/") + ".py")
            moved |= dict.fromkeys(cut(source, target, module, docstring, names), module)
        every = {name: module for module, _, names in parts for name in names}
        for path in [source] + [PKG / (module.replace(".", "/") + ".py") for module, _, _ in parts]:
            own = path.relative_to(PKG).with_suffix("").as_posix().replace("/", ".")
            undefined = undefined_names(path)
            if "logger" in undefined:  # a moved function logs: the new module has its own logger
                text = path.read_text()
                last = max(node.end_lineno for node in ast.parse(text).body if isinstance(node, ast.Import | ast.ImportFrom))
                lines = text.splitlines(keepends=True)
                lines.insert(last, "\nlogger = logging.getLogger(__name__)\n")
                path.write_text("".join(lines))
            missing = {name: every[name] for name in undefined if name in every and every[name] != own}
            if path != source:  # what the moved code still uses of the source module (never the other way)
                kept = top_level(ast.parse(source.read_text()))
                missing |= {name: source_module for name in undefined
                            if name in kept and name not in every and name != "logger"}
            by_module: dict[str, list[str]] = {}
            for name, module in missing.items():
                by_module.setdefault(module, []).append(name)
            if by_module:
                text = path.read_text()
                tree = ast.parse(text)
                last = max(node.end_lineno for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom))
                lines = text.splitlines(keepends=True)
                lines.insert(last, "".join(f"from iadbench.{module} import {', '.join(sorted(names))}\n"
                                           for module, names in sorted(by_module.items())))
                path.write_text("".join(lines))
        text = source.read_text()  # __all__ lists what stays
        if "__all__" in top_level(ast.parse(text)):
            node = top_level(ast.parse(text))["__all__"]
            kept = [item.value for item in node.value.elts if item.value not in every]
            lines = text.splitlines(keepends=True)
            listing = textwrap.fill(", ".join(f'"{name}"' for name in kept), 104, initial_indent="    ",
                                    subsequent_indent="    ")
            lines[node.lineno - 1:node.end_lineno] = [f"__all__ = [\n{listing},\n]\n"]
            source.write_text("".join(lines))
        print(source_module, "->", ", ".join(f"{name}: {module}" for name, module in moved.items()) or "nothing")
    subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "--select", "F401,I", "--quiet", "src"], cwd=ROOT,
                   check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
