"""Issue #23's mechanical move: top-level modules of src/iadbench into subpackages, imports rewritten.

Re-runnable on a newer tree (after merging main): a module already moved is skipped, and the rewrite only
touches names of the old layout, so running it twice changes nothing the second time.

    python tools/relayout.py            # git mv + rewrite every tracked text file
    python tools/relayout.py --check    # list the files that still name an old module (exit 1 if any)

Rewritten: ``from iadbench.old import x``, ``import iadbench.old``, ``from iadbench import old`` and every
``iadbench.old`` / ``iadbench/old.py`` string (docstrings, mock targets, docs, rules, README).
``NAMES`` moves single names of a module whose content was split by hand (applied to ``from M import``).
"""

from __future__ import annotations

import argparse
import ast
import functools
import re
import subprocess
import sys
from pathlib import Path

from split import SPLITS  # tools/split.py, beside this file

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "iadbench"

# old module (under iadbench) -> new module. Layers, low to high:
# core < datasets, metrics < models < results, config < stats < run < report < continual < serve < cli
MOVES: dict[str, str] = {
    "files": "core.files",
    "provenance": "core.provenance",
    "offline": "core.offline",
    "gpus": "core.gpus",
    "runlock": "core.runlock",
    "metrics": "metrics.measures",
    "assets": "models.assets",
    "results": "results.rows",
    "metric_names": "results.columns",
    "config": "config.base",
    "continual_config": "config.continual",
    "predict_config": "config.predict",
    "uncertainty": "stats.uncertainty",
    "significance": "stats.significance",
    "ranking": "stats.ranking",
    "evidence": "stats.evidence",
    "train": "run.train",
    "evaluate": "run.evaluate",
    "timing": "run.timing",
    "attempts": "run.attempts",
    "report": "report.render",
    "templating": "report.templating",
    "tables": "report.tables",
    "figures": "report.figures",
    "paper": "report.paper",
    "video_report": "report.video",
    "job_resources": "report.job_resources",
    "labels": "report.labels",
    "references": "report.references",
    "reproduction": "report.reproduction",
    "distributions": "report.distributions",
    "gallery": "report.gallery",
    "continual": "continual.step",
    "continual_results": "continual.results",
    "continual_report": "continual.report",
    "predict": "serve.predict",
    "export": "serve.export",
    "publish": "serve.publish",
    "job_model": "serve.job_model",
}

# (module, name) -> module that now holds the name (hand-made splits; applied to `from module import name`).
NAMES: dict[tuple[str, str], str] = {
    **{("models", name): "models.registry" for name in (
        "MODEL_CLASS_PATHS", "resolve_class_path", "is_video_model", "import_class", "accepts_argument",
        "BUILD_MODEL_ARGUMENTS", "constructor_arguments", "check_init_args")},
    **{("models", name): "models.specs" for name in (
        "MODEL_SPECS", "STUDY_MODELS", "spec_for_class", "spec_of", "train_mem_mb", "train_runtime_minutes")},
    **{(module, name): "config.feature_maps" for module in ("models", "models.registry") for name in (
        "RESNET_LAYER_STRIDES", "resnet_feature_side", "feature_map_warnings")},
    **{("config.base", name): "config.load" for name in ("validate_config", "load_config", "NAME_PATTERN",
                                                         "NAME_RULE")},
    **{("run.train", name): "run.predictions" for name in (
        "EMPTY", "save_predictions", "load_predictions", "_as_numpy", "collect_predictions",
        "predict_to", "predict_video_to", "_frame_files", "assemble_video_predictions")},
    **{("continual.step", name): "run.continual_step" for name in (
        "PADIM_REGULARIZATION", "PreviousStepFailed", "ContinualStep", "load_state",
        "reset_fitted", "ACCUMULATE_KINDS", "bank_state", "bank_size", "merge_bank",
        "pool_gaussians")},
    ("models", "build_model"): "models.build",
    ("models.registry", "build_model"): "models.build",
    ("models.random_weights", "replace"): "models.patching",
    ("models.assets", "CACHED_DATA_ARGUMENTS"): "models.build",
    ("models.assets", "pretrained_init_args"): "models.build",
    **{("models.assets", name): "models.required_assets" for name in (
        "required_assets", "fetch_assets", "check_assets")},
}

# Folders whose files move into the package (package data read through importlib.resources).
FOLDER_MOVES: dict[str, str] = {"report/templates": "src/iadbench/report/templates"}

# Paths into the moved folders, as code and docs spell them (each applied once: the new path does not match).
PATH_REWRITES: list[tuple[str, str]] = [
    (r'(?<!"iadbench" / )"report" / "templates"', '"src" / "iadbench" / "report" / "templates"'),
    (r'(?<![\w/])report/templates\b', "src/iadbench/report/templates"),
]

# The splits of oversized modules (tools/split.py) move names too: `from source import name` follows them.
NAMES |= {(source, name): target for source, parts in SPLITS.items() for target, _, names in parts for name in names}

SKIP_SUFFIXES = (".lock", ".parquet", ".png", ".npz", ".csv")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def anchor_gitignore() -> None:
    """``results/`` in .gitignore would also ignore the package's ``src/iadbench/results/``: anchor it."""
    path = ROOT / ".gitignore"
    lines = path.read_text().splitlines()
    anchored = ["/" + line if line in ("results/", "resources/") else line for line in lines]
    if anchored != lines:
        path.write_text("\n".join(anchored) + "\n")
    # the same for ruff's exclude (a bare name excludes every folder of that name)
    pyproject = ROOT / "pyproject.toml"
    pyproject.write_text(re.sub(r'"(results|resources)"', r'"./\1"', pyproject.read_text()))


def move_modules() -> None:
    anchor_gitignore()
    for old, new in MOVES.items():
        source = PKG / f"{old}.py"
        target = PKG / (new.replace(".", "/") + ".py")
        if not source.exists() or target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        init = target.parent / "__init__.py"
        if not init.exists():
            init.write_text(f'"""{target.parent.name}: see docs/layout.md."""\n')
            git("add", str(init.relative_to(ROOT)))
        git("mv", str(source.relative_to(ROOT)), str(target.relative_to(ROOT)))
    for old_folder, new_folder in FOLDER_MOVES.items():
        for source in sorted((ROOT / old_folder).glob("*")) if (ROOT / old_folder).is_dir() else []:
            (ROOT / new_folder).mkdir(parents=True, exist_ok=True)
            git("mv", str(source.relative_to(ROOT)), f"{new_folder}/{source.name}")


def _children(new_parent: str) -> set[str]:
    """Submodules (and subpackages) a package of the new layout holds: never to be read as an old name."""
    folder = PKG / new_parent.replace(".", "/")
    modules = {*MOVES.values(), *NAMES.values()}
    names = {module[len(new_parent) + 1:].split(".")[0] for module in modules if module.startswith(new_parent + ".")}
    if folder.is_dir():
        names |= {path.stem for path in folder.iterdir() if path.suffix == ".py" or path.is_dir()}
    return names - {"__init__", "__pycache__"}


def _dotted_pattern(old: str) -> re.Pattern[str]:
    # `iadbench.old` not followed by a name character, nor by one of the new package's own submodules
    # (iadbench.metrics.measures must not become iadbench.metrics.measures.measures on a second run), nor
    # `from iadbench.old import` (handled by _from_module), nor resources.files("iadbench.report") (the package).
    children = sorted(_children(old))
    guard = rf"(?!\.(?:{'|'.join(map(re.escape, children))})\b)" if children else ""
    return re.compile(rf"(?<!files\([\"'])\biadbench\.{re.escape(old)}(?![\w]){guard}(?![ \t]+import\b)")


@functools.cache
def patterns() -> list[tuple[str, str, re.Pattern[str]]]:
    """The dotted-name patterns, longest old name first (built after the moves: they know the new folders)."""
    return [(old, new, _dotted_pattern(old)) for old, new in sorted(MOVES.items(), key=lambda item: -len(item[0]))]
FROM_PACKAGE = re.compile(r"^(?P<indent>[ \t]*)from iadbench import (?P<names>[\w, ]+?)[ \t]*(?P<comment>#.*)?$",
                          re.MULTILINE)
FROM_MODULE = re.compile(r"^(?P<indent>[ \t]*)from (?P<module>iadbench(?:\.\w+)+) import (?P<names>\([^)]*\)|[^\n#]+)"
                         r"(?P<comment>[ \t]*#[^\n]*)?$", re.MULTILINE)


def _from_package(match: re.Match[str]) -> str:
    """``from iadbench import a, b`` -> one line per moved module (keeping the name the code uses)."""
    indent, comment = match["indent"], match["comment"]
    kept, lines = [], []
    for item in (name.strip() for name in match["names"].split(",") if name.strip()):
        name, _, alias = item.partition(" as ")
        name, alias = name.strip(), alias.strip() or name.strip()
        if name in MOVES:
            parent, _, leaf = MOVES[name].rpartition(".")
            lines.append(f"{indent}from iadbench.{parent} import {leaf}" + (f" as {alias}" if leaf != alias else ""))
        else:
            kept.append(item)
    if not lines:
        return match[0]
    if kept:
        lines.insert(0, f"{indent}from iadbench import {', '.join(kept)}")
    if comment:
        lines[0] += f"  {comment}"
    return "\n".join(lines)


@functools.cache
def _homes(module: str) -> dict[str, str]:
    """Where each top-level name of a module of the new layout lives: the module itself (definitions,
    third-party re-exports) or the sibling submodule it imports the name from (a re-export)."""
    path = PKG / (module.replace(".", "/") + ".py")
    if not path.exists():
        return {}
    package = module.rpartition(".")[0]
    homes: dict[str, str] = {}
    for node in ast.parse(path.read_text()).body:
        if (isinstance(node, ast.ImportFrom) and node.module != f"iadbench.{package}"
                and (node.module or "").removeprefix("iadbench.") in MOVES):
            node.module = "iadbench." + MOVES[node.module.removeprefix("iadbench.")]  # not rewritten yet
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            homes[node.name] = module
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            homes |= {target.id: module for target in targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.ImportFrom) and (node.module or "") == f"iadbench.{package}":
            continue  # `from iadbench.<package> import sibling`: a submodule, not a name of this module
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(f"iadbench.{package}."):
            homes |= {alias.asname or alias.name: node.module.removeprefix("iadbench.") for alias in node.names}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            homes |= {(alias.asname or alias.name).split(".")[0]: module for alias in node.names}
    return homes


def _target(module: str, name: str) -> str:
    """The module of the new layout that ``from iadbench.<module> import <name>`` must read ``name`` from."""
    if module in MOVES:
        homes = _homes(MOVES[module])
        if name in homes:
            module = homes[name]  # what the old module held (or re-exported): its home now
        elif name not in _children(module):
            module = MOVES[module]  # (a name the old module lacks stays with it, to fail loudly)
    return NAMES.get((module, name), module)


def _from_module(match: re.Match[str]) -> str:
    """``from iadbench.M import ...`` -> each name from its module of the new layout (:func:`_target`): one
    line per module when the names part ways."""
    module = match["module"].removeprefix("iadbench.")
    indent, comment = match["indent"], match["comment"] or ""
    body = re.sub(r"#[^\n]*", "", match["names"])  # comments inside the parentheses
    items = [item.strip() for item in body.strip("()").replace("\n", " ").split(",") if item.strip()]
    by_module: dict[str, list[str]] = {}
    for item in items:
        by_module.setdefault(_target(module, item.split(" as ")[0].strip()), []).append(item)
    if len(by_module) == 1:  # the whole statement goes to one module: only its name changes
        return match[0].replace(match["module"], f"iadbench.{next(iter(by_module))}", 1)
    lines = []
    for target, targets in sorted(by_module.items()):
        line = f"{indent}from iadbench.{target} import {', '.join(targets)}"
        if len(line) > 110:
            line = (f"{indent}from iadbench.{target} import (\n" + "".join(f"{indent}    {n},\n" for n in targets)
                    + f"{indent})")
        lines.append(line)
    return "\n".join(lines) + comment


# `from iadbench.old import x` inside a string (code a test runs in a child process): one statement.
INLINE_FROM = re.compile(r"(?<=[\"';] )from (?P<module>iadbench(?:\.\w+)+) import (?P<names>[\w, ]+)"
                         r"|(?<=[\"'])from (?P<module2>iadbench(?:\.\w+)+) import (?P<names2>[\w, ]+)")


def _inline_from(match: re.Match[str]) -> str:
    module, names = match["module"] or match["module2"], match["names"] or match["names2"]
    old = module.removeprefix("iadbench.")
    items = [name.strip() for name in names.split(",") if name.strip()]
    targets: dict[str, list[str]] = {}
    for name in items:
        targets.setdefault(_target(old, name.split(" as ")[0].strip()), []).append(name)
    trailing = names[len(names.rstrip()):]
    return "; ".join(f"from iadbench.{target} import {', '.join(found)}" for target, found in targets.items()) + trailing


def rewrite(text: str, python: bool) -> str:
    if python:
        text = FROM_MODULE.sub(_from_module, text)
        text = INLINE_FROM.sub(_inline_from, text)
        text = FROM_PACKAGE.sub(_from_package, text)
    for old, new, pattern in patterns():
        text = pattern.sub(f"iadbench.{new}", text)
    for pattern, replacement in PATH_REWRITES:
        text = re.sub(pattern, replacement, text)
    for (module, name), target in NAMES.items():  # dotted references: docstrings, mock targets, docs
        text = re.sub(rf"\biadbench\.{re.escape(module)}\.{re.escape(name)}\b", f"iadbench.{target}.{name}", text)
        text = re.sub(rf"\biadbench/{re.escape(old)}\.py\b", f"iadbench/{new.replace('.', '/')}.py", text)
    return text


def tracked_text_files() -> list[Path]:
    paths = [ROOT / line for line in git("ls-files").splitlines()]
    paths += [ROOT / line for line in git("ls-files", "--others", "--exclude-standard").splitlines()]
    return [path for path in paths if path.is_file() and not path.name.endswith(SKIP_SUFFIXES)
            and path.name != "pyproject.toml"  # its one old path (ruff's exclude) is anchor_gitignore's
            and path.resolve() != Path(__file__).resolve()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report files that still use old names")
    args = parser.parse_args()
    if not args.check:
        move_modules()
    stale = []
    for path in tracked_text_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        new = rewrite(text, True)
        if new != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(new)
    if not args.check:  # the rewritten imports in isort order (the project's ruff selects I)
        subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "--select", "I", "--quiet",
                        "src", "tests", "benchmarks", "workflow/scripts"], cwd=ROOT, check=False)
    print("\n".join(map(str, stale)) or "nothing to rewrite")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
