"""Uploading the folders `snakemake publish` wrote to the Hugging Face Hub: the token, the files, one repo per
folder."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iadbench.core.files import read_json
from iadbench.serve.publish import HIDDEN, MANIFEST, NAMESPACE_PLACEHOLDER


def hub_token() -> str | None:
    """``HF_TOKEN`` or the token ``huggingface-cli login`` stored; None when there is none."""
    token = os.environ.get("HF_TOKEN")
    if token:
        return token
    from huggingface_hub import get_token

    return get_token()


def _files(folder: Path) -> list[tuple[str, int]]:
    """The files upload sends: every file but hidden ones (e.g. Snakemake's .snakemake_timestamp)."""
    return sorted((str(path.relative_to(folder)), path.stat().st_size) for path in folder.rglob("*")
                  if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def upload(publish_dir: str | Path, *, namespace: str | None = None, dry_run: bool = False,
           api: Any = None, token: str | None = None, private: bool = False,
           echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Upload every folder of ``publish_dir/manifest.json`` to its Hub repo (``<namespace>/<repo_name>``).

    Without a token (or with ``dry_run``) nothing is sent: each repo id, type and file (with its size) is
    printed. ``namespace``: a user or organisation; None takes the manifest's (``publish.namespace``), else
    the token's user. Returns the plan (one entry per repo).
    """
    publish_dir = Path(publish_dir)
    manifest_path = publish_dir / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} is missing: run `snakemake --cores 1 publish` first")
    manifest = read_json(manifest_path)
    token = token if token is not None else hub_token()
    send = bool(token) and not dry_run
    if send and api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    namespace = namespace or manifest.get("namespace")
    if not namespace:
        namespace = api.whoami()["name"] if send else NAMESPACE_PLACEHOLDER
    plan = []
    if not send:
        echo("dry run: nothing is uploaded" if dry_run else
             "no Hugging Face token (set HF_TOKEN or run `huggingface-cli login`): nothing is uploaded")
    for entry in manifest["folders"]:
        folder = publish_dir / entry["folder"]
        repo_id = f"{namespace}/{entry['repo_name']}"
        files = _files(folder)
        plan.append({"repo_id": repo_id, "repo_type": entry["repo_type"], "folder": str(folder), "files": files})
        echo(f"{'uploading' if send else 'would upload'} {folder} -> {entry['repo_type']} {repo_id} "
             f"({len(files)} files, {sum(size for _, size in files)} bytes)")
        for name, size in files:
            echo(f"  {name}  {size} bytes")
        if send:
            api.create_repo(repo_id=repo_id, repo_type=entry["repo_type"], private=private, exist_ok=True)
            api.upload_folder(repo_id=repo_id, repo_type=entry["repo_type"], folder_path=str(folder), ignore_patterns=HIDDEN,
                              commit_message=f"iadbench publish {manifest.get('created', '')}".strip())
    return plan


def upload_main(argv: list[str] | None = None) -> int:
    """``iadbench upload [--dry-run] [--namespace NS] [--private] [PUBLISH_DIR]``."""
    parser = argparse.ArgumentParser(prog="iadbench upload", description=upload.__doc__.splitlines()[0])
    add_upload_arguments(parser)
    return run_upload(parser.parse_args(argv))


def add_upload_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("publish_dir", nargs="?", default="results/publish",
                        help="the folders `snakemake publish` wrote (default: results/publish)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be uploaded, send nothing")
    parser.add_argument("--namespace", help="Hub user or organisation (default: publish.namespace, else yours)")
    parser.add_argument("--private", action="store_true", help="create the repos private")


def run_upload(arguments: argparse.Namespace) -> int:
    try:
        upload(arguments.publish_dir, namespace=arguments.namespace, dry_run=arguments.dry_run,
               private=arguments.private)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(upload_main(sys.argv[2:] if sys.argv[1:2] == ["upload"] else sys.argv[1:]))
