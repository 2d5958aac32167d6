"""A trained job's weights: read without running anyone's code, loaded into the model rebuilt as training built it.

The one home of "put a trained job's weights into a model": timing (:mod:`iadbench.run.timing`), a continual
step (:mod:`iadbench.run.continual_step`), predict and export (:mod:`iadbench.serve.job_model`) all call
:func:`load_checkpoint`. Two forms:

* ``model.ckpt``: the Lightning checkpoint a training job saved. A pickle, so it is read with
  ``torch.load(weights_only=True)``: tensors, plain containers and numbers, plus an explicit allowlist
  (anomalib's own, :func:`anomalib.utils.serialization.anomalib_safe_globals`: its shared enums and numpy's
  leaf types, and the model class's ``checkpoint_safe_globals()``, e.g. RKDE's enums). A checkpoint that
  needs any other class is refused with :class:`UnsafeCheckpointError` naming it; nothing in it runs.
* ``model.safetensors``: what ``publish`` writes (:func:`write_safetensors`) and the only weights read from
  the Hugging Face Hub: the ``state_dict``'s tensors, and in the file's metadata (a JSON string) the plain
  data anomalib's ``on_load_checkpoint`` restores (:data:`CHECKPOINT_CONFIG_KEYS`: which components are on,
  the pre-processor's transform spec, the post-processor's flags). No pickle at all.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from iadbench.core.files import atomic_write

# What anomalib's AnomalibModule.on_save_checkpoint adds beside the state_dict: plain data (JSON-safe).
CHECKPOINT_CONFIG_KEYS = ("anomalib_components_enabled", "anomalib_pre_processor_config",
                          "anomalib_post_processor_config")
METADATA_KEY = "iadbench_checkpoint_config"
SAFETENSORS_SUFFIX = ".safetensors"


class UnsafeCheckpointError(ValueError):
    """A checkpoint that needs a class outside the allowlist to be read: refused, never unpickled."""


def safe_globals_of(model_or_class: Any) -> list[Any]:
    """The model's own allowlist (anomalib's ``checkpoint_safe_globals``; a plain module has none)."""
    method = getattr(model_or_class, "checkpoint_safe_globals", None)
    return list(method()) if callable(method) else []


def _allowed_names(extra: Iterable[Any]) -> set[str]:
    from anomalib.utils.serialization import ANOMALIB_SAFE_GLOBALS, NUMPY_SAFE_GLOBALS

    names = set()
    for item in [*ANOMALIB_SAFE_GLOBALS, *NUMPY_SAFE_GLOBALS, *extra]:
        if isinstance(item, tuple):
            names.add(item[1])
        else:
            names.add(f"{item.__module__}.{item.__qualname__}")
    return names


def _pickle_globals(data: bytes) -> set[str]:
    """The ``module.name`` globals a bare pickle refers to, read with pickletools (nothing executed)."""
    import pickletools

    found, strings = set(), []
    with contextlib.suppress(ValueError, EOFError, KeyError):  # a truncated or odd stream: what was found so far
        for opcode, argument, _ in pickletools.genops(data):
            if opcode.name in ("GLOBAL", "INST"):
                found.add(str(argument).replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.add(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(argument, str):
                strings.append(argument)
    return found


def _refused(path: Path, error: Exception, extra: Sequence[Any]) -> UnsafeCheckpointError:
    """The error naming what the checkpoint asked for, found by scanning its pickle (nothing executed)."""
    import torch

    try:
        wanted = set(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except (ValueError, RuntimeError, OSError):  # not a torch.save zip: a bare pickle
        wanted = _pickle_globals(path.read_bytes())
    names = sorted(wanted - _allowed_names(extra) - {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2"})
    if not names:
        names = sorted(set(re.findall(r"GLOBAL ([\w.]+)", str(error))))
    needs = f"it needs {', '.join(names)}" if names else f"{str(error).splitlines()[0]}"
    return UnsafeCheckpointError(
        f"{path}: refused to load: {needs}, outside the checkpoint allowlist (tensors, plain containers, "
        "anomalib's enums and the model's checkpoint_safe_globals()); a checkpoint is never unpickled with other "
        "classes, since unpickling runs code its author chose")


def read_checkpoint(path: str | Path, safe_globals: Sequence[Any] = ()) -> dict[str, Any]:
    """The checkpoint's ``{"state_dict": ..., <CHECKPOINT_CONFIG_KEYS>...}`` (a ``.ckpt``: every key it has),
    read without running code (see the module); ``safe_globals``: the model's own allowlist."""
    path = Path(path)
    if path.suffix == SAFETENSORS_SUFFIX:
        return read_safetensors(path)
    import torch
    from anomalib.utils.serialization import anomalib_safe_globals

    try:
        with anomalib_safe_globals(extra=list(safe_globals)):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise _refused(path, error, safe_globals) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise ValueError(f"{path}: not a Lightning checkpoint (no state_dict)")  # noqa: TRY004 -- a bad file
    return checkpoint


def read_safetensors(path: str | Path) -> dict[str, Any]:
    """A ``model.safetensors`` :func:`write_safetensors` wrote, as :func:`read_checkpoint` returns it."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    try:
        state = load_file(path, device="cpu")
        with safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
        config = json.loads(metadata.get(METADATA_KEY) or "{}")
    except (SafetensorError, OSError, ValueError) as error:  # a header that is not safetensors' (a pickle...)
        raise ValueError(f"{path}: not a safetensors file ({type(error).__name__}: {error})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: metadata {METADATA_KEY} is not a JSON object")  # noqa: TRY004 -- a bad file
    return {"state_dict": state, **{key: config[key] for key in CHECKPOINT_CONFIG_KEYS if key in config}}


def write_safetensors(checkpoint_path: str | Path, out_path: str | Path, safe_globals: Sequence[Any] = ()) -> None:
    """``model.safetensors`` from a job's ``model.ckpt`` (read as :func:`read_checkpoint` does): its state_dict
    and, as metadata, the plain data of :data:`CHECKPOINT_CONFIG_KEYS`. Written atomically."""
    from safetensors.torch import save_file

    checkpoint = read_checkpoint(checkpoint_path, safe_globals)
    state = checkpoint["state_dict"]
    others = [key for key, value in state.items() if not hasattr(value, "contiguous")]
    if others:
        raise ValueError(f"{checkpoint_path}: state_dict entries that are not tensors ({', '.join(others[:5])}): "
                         "not storable as safetensors")
    # A copy of each tensor: safetensors refuses tensors sharing memory, and loading copies into the model anyway.
    tensors = {key: value.detach().cpu().contiguous().clone() for key, value in state.items()}
    config = {key: checkpoint[key] for key in CHECKPOINT_CONFIG_KEYS if key in checkpoint}
    metadata = {"format": "pt", METADATA_KEY: json.dumps(config)}
    atomic_write(out_path, lambda temporary: save_file(tensors, str(temporary), metadata=metadata))


def fit_sizes(model, state: dict[str, Any]) -> None:
    """Tensors whose size the data decides (memory banks, Gaussian statistics start empty) take the
    checkpoint's size, so that ``load_state_dict`` can copy them."""
    import torch

    own = model.state_dict()
    for key, value in state.items():
        if key not in own or tuple(own[key].shape) == tuple(value.shape):
            continue
        module_name, _, name = key.rpartition(".")
        module = model.get_submodule(module_name) if module_name else model
        if name in module._buffers:
            module._buffers[name] = torch.empty_like(value, device=own[key].device)
        elif name in module._parameters:
            module._parameters[name] = torch.nn.Parameter(torch.empty_like(value, device=own[key].device),
                                                          requires_grad=module._parameters[name].requires_grad)


def load_trained_state(model, checkpoint: dict[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
    """Put ``checkpoint`` (:func:`read_checkpoint`'s) into ``model``: Lightning's order, the model's
    ``on_load_checkpoint`` hook (anomalib restores its components' plain config), then the weights.
    Returns the (missing, unexpected) keys (both empty when ``strict``)."""
    state = checkpoint["state_dict"]
    hook = getattr(model, "on_load_checkpoint", None)
    if callable(hook):
        hook(checkpoint)
    fit_sizes(model, state)
    result = model.load_state_dict(state, strict=strict)
    return list(result.missing_keys), list(result.unexpected_keys)


def load_checkpoint(model, path: str | Path, strict: bool = True) -> tuple[list[str], list[str]]:
    """Load a trained job's ``model.ckpt`` or ``model.safetensors`` into ``model`` (built as training built
    it): :func:`read_checkpoint` with the model's allowlist, then :func:`load_trained_state`."""
    return load_trained_state(model, read_checkpoint(path, safe_globals_of(model)), strict=strict)
