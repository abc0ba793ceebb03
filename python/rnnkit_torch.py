"""Move rnnkit files to PyTorch and back, with the standard library and torch only.

- read_safetensors / write_safetensors: the safetensors format (F32 and I32 tensors), as
  rnnkit and Hugging Face's `safetensors` write it.
- load_training_state / save_training_state: rnnkit's training state file (format
  rnnkit.training_state.v1, see packages/core/src/train/training_state.ts): a model's
  weights, its optimizer's state (every parameter group) and its learning-rate scheduler's
  state, to continue a run in PyTorch that rnnkit started, or the other way round.

Usage, from a directory with this file on sys.path:

    from rnnkit_torch import load_training_state, save_training_state
    state = load_training_state("run.safetensors", model, optimizer, scheduler)
    save_training_state("run.safetensors", model, optimizer, step=state["step"] + 100,
                        scheduler=scheduler)

Scheduler states are PyTorch's state_dict() as JSON, with three changes JSON needs:
MultiStepLR's milestones Counter is {"step": count}, OneCycleLR's anneal_func (a method in
PyTorch 1.13) is "_anneal_func_type": "cos" | "linear" (as later PyTorch versions save it),
and ReduceLROnPlateau's infinite best / mode_worse are "inf" / "-inf".
"""

import hashlib
import json
import math
import os
import re
import struct
from collections import Counter

import torch

TRAINING_STATE_FORMAT = "rnnkit.training_state.v1"

# safetensors dtype -> (torch dtype, struct code); both 32-bit.
_DTYPES = {"F32": (torch.float32, "f"), "I32": (torch.int32, "i")}


def _tensor_bytes(name, t):
    """The little-endian bytes of a float32 or int32 tensor, and its safetensors dtype."""
    for dtype, (torch_dtype, code) in _DTYPES.items():
        if t.dtype == torch_dtype:
            values = t.detach().reshape(-1).tolist()
            return dtype, struct.pack(f"<{len(values)}{code}", *values)
    raise TypeError(f"tensor {name!r} is {t.dtype}: rnnkit stores float32 and int32 only "
                    "(convert with .float() or .int() first)")


def read_safetensors(path):
    """Return (tensors, metadata) of a safetensors file: tensors by name in header order
    (F32 as float32, I32 as int32), metadata the `__metadata__` strings ({} if none)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: not a safetensors file ({len(raw)} bytes)")
    (n,) = struct.unpack_from("<Q", raw, 0)
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} is {info['dtype']}, expected F32 or I32")
        torch_dtype, code = _DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        count = 1
        for size in info["shape"]:
            count *= size
        if end - begin != 4 * count or 8 + n + end > len(raw):
            raise ValueError(f"{path}: tensor {name} has bad data_offsets {[begin, end]}")
        values = struct.unpack_from(f"<{count}{code}", raw, 8 + n + begin)
        tensors[name] = torch.tensor(values, dtype=torch_dtype).reshape(info["shape"])
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    """Write tensors (name -> float32 or int32 tensor, stored in the given order) and
    metadata (str -> str; omitted when empty) to path as safetensors. The file is written
    beside path and renamed over it, so a crash leaves the old file or the new one."""
    header, chunks, offset = {}, [], 0
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("safetensors metadata must map strings to strings")
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        dtype, data = _tensor_bytes(name, t)
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)

    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _sha256(tensors):
    """Hex SHA-256 of the tensors' bytes, concatenated in the dict's order."""
    digest = hashlib.sha256()
    for name, t in tensors.items():
        digest.update(_tensor_bytes(name, t)[1])
    return digest.hexdigest()


def _json(value):
    """JSON text of value; tensors are written as numbers or lists, NaN and inf refused."""
    def plain(v):
        if torch.is_tensor(v):
            return v.tolist()
        raise TypeError(f"{type(v).__name__} is not JSON-serialisable")
    return json.dumps(value, allow_nan=False, separators=(",", ":"), default=plain)


def load_training_state(path, model=None, optimizer=None, scheduler=None):
    """Read an rnnkit training state file; return {"step", "metadata", "tensors", "run_id",
    "random"} (metadata: the caller's JSON; tensors: the file's `tensors.*` by name; random:
    rnnkit's generator state as saved, or None, to hand back to save_training_state).

    Checks the format and the sha256 of the tensor data. Given a model, loads the weights
    into model.load_state_dict (strict). Given an optimizer of the saved type (by class
    name, e.g. torch.optim.Adam for rnnkit's Adam), loads the saved hyperparameters of every
    parameter group and the per-parameter state into optimizer.load_state_dict. Given a
    scheduler of the saved type (e.g. torch.optim.lr_scheduler.SequentialLR, built as the
    saved one was: same schedulers inside), loads its state into scheduler.load_state_dict;
    load the optimizer too, which holds the current learning rates. rnnkit's random
    generator state is not put into PyTorch's: that generator is laid out differently.
    """
    tensors, meta = read_safetensors(path)
    if meta.get("format") != TRAINING_STATE_FORMAT:
        raise ValueError(f"{path}: not an rnnkit training state in format "
                         f"{TRAINING_STATE_FORMAT} (its format: {meta.get('format')!r})")
    if _sha256(tensors) != meta.get("sha256"):
        raise ValueError(f"{path}: its tensor data is damaged (sha256 differs)")
    if not re.fullmatch(r"0|[1-9][0-9]*", meta.get("step", "")):
        raise ValueError(f"{path}: metadata step is {meta.get('step')!r}, expected an integer")

    weights, extra, buffers = {}, {}, {}
    for key, t in tensors.items():
        kind, _, rest = key.partition(".")
        index, _, name = rest.partition(".")
        if kind == "model":
            weights[rest] = t
        elif kind == "tensors":
            extra[rest] = t
        elif kind == "optimizer" and index.isdigit() and name:
            buffers.setdefault(int(index), {})[name] = t
        else:
            raise ValueError(f"{path}: unexpected tensor {key!r}")

    if model is not None:
        model.load_state_dict(weights, strict=True)
    if optimizer is not None:
        optimizer.load_state_dict(_optimizer_state_dict(path, meta, buffers, optimizer))
    if scheduler is not None:
        if "scheduler" not in meta:
            raise ValueError(f"{path}: it holds no scheduler state")
        saved = json.loads(meta["scheduler"])
        kind = type(scheduler).__name__
        if saved.get("type") != kind:
            raise ValueError(f"{path}: its scheduler state is {saved.get('type')}'s, not {kind}'s")
        scheduler.load_state_dict(_torch_scheduler_state(saved["state"], scheduler))
    return {"step": int(meta["step"]), "metadata": json.loads(meta.get("metadata", "{}")),
            "tensors": extra, "run_id": meta.get("run_id"), "random": meta.get("random")}


def _optimizer_state_dict(path, meta, buffers, optimizer):
    """PyTorch's optimizer state_dict from the file's optimizer metadata and buffers."""
    if "optimizer" not in meta:
        raise ValueError(f"{path}: it holds no optimizer state")
    saved = json.loads(meta["optimizer"])
    kind = type(optimizer).__name__
    if saved.get("type") != kind:
        raise ValueError(f"{path}: its optimizer state is {saved.get('type')}'s, not {kind}'s")
    steps = {int(i): entry for i, entry in saved["state"].items()}
    state = {}
    for i in sorted(set(steps) | set(buffers)):
        entry = {k: torch.tensor(float(v)) for k, v in steps.get(i, {}).items()}
        entry.update(buffers.get(i, {}))
        state[i] = entry
    # JSON has no tuples; PyTorch keeps betas and the like as tuples.
    groups = [{k: tuple(v) if isinstance(v, list) and k != "params" else v
               for k, v in group.items()} for group in saved["param_groups"]]
    return {"state": state, "param_groups": groups}


def _torch_scheduler_state(state, scheduler):
    """A scheduler state as rnnkit saves it (JSON), as PyTorch's scheduler.load_state_dict
    takes it: milestones as a Counter, OneCycleLR's anneal function, infinities as floats."""
    state = dict(state)
    if "milestones" in state and isinstance(state["milestones"], dict):
        state["milestones"] = Counter({int(k): n for k, n in state["milestones"].items()})
    if "_anneal_func_type" in state and not hasattr(scheduler, "_anneal_func_type"):
        kind = state.pop("_anneal_func_type")  # PyTorch < 2.1 keeps the bound method
        state["anneal_func"] = (scheduler._annealing_cos if kind == "cos"
                                else scheduler._annealing_linear)
    for key in ("best", "mode_worse"):
        if state.get(key) in ("inf", "-inf"):
            state[key] = float(state[key])
    if "_schedulers" in state:
        state["_schedulers"] = [_torch_scheduler_state(s, child) for s, child
                                in zip(state["_schedulers"], scheduler._schedulers)]
    return state


def _rnnkit_scheduler_state(state):
    """PyTorch's scheduler.state_dict() as rnnkit saves it: plain JSON (see the module's
    docstring)."""
    out = {}
    for key, value in state.items():
        if key == "anneal_func":
            out["_anneal_func_type"] = "cos" if value.__name__ == "_annealing_cos" else "linear"
        elif isinstance(value, Counter):
            out[key] = {str(k): n for k, n in sorted(value.items())}
        elif key == "_schedulers":
            out[key] = [_rnnkit_scheduler_state(s) for s in value]
        elif isinstance(value, float) and math.isinf(value):
            out[key] = "inf" if value > 0 else "-inf"
        else:
            out[key] = value
    return out


def save_training_state(path, model, optimizer, step, metadata=None, tensors=None,
                        run_id=None, random=None, scheduler=None):
    """Write model's weights, optimizer's state (None: not saved), step and the caller's
    metadata (a JSON object, default {}) and tensors (name -> float32/int32 tensor) as an
    rnnkit training state, which rnnkit's readTrainingState(...).restore(...) continues.
    random: an rnnkit generator state as load_training_state returned it (default: none,
    so rnnkit cannot restore a generator from the file). scheduler: the optimizer's
    learning-rate scheduler (default: none), saved as its class name and state_dict().

    The optimizer is saved as its class name (rnnkit has Adam, AdamW, SGD, RMSprop) with
    PyTorch's param groups (all of them), extra keys included (rnnkit accepts them at their
    defaults, and the keys schedulers add: initial_lr, max_lr, ...).
    """
    if not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an integer >= 0, got {step!r}")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError("metadata must be a dict (a JSON object)")
    out = {f"model.{k}": t.detach() for k, t in model.state_dict().items()}
    meta = {"format": TRAINING_STATE_FORMAT, "step": str(step)}
    if run_id is not None:
        meta["run_id"] = str(run_id)
    if optimizer is not None:
        saved = optimizer.state_dict()
        steps = {}
        for i in sorted(saved["state"]):
            steps[str(i)] = {}
            for name, value in saved["state"][i].items():
                if name == "step":
                    steps[str(i)]["step"] = int(float(value))
                elif torch.is_tensor(value):
                    out[f"optimizer.{i}.{name}"] = value.detach()
                elif value is not None:
                    steps[str(i)][name] = value
        meta["optimizer"] = _json({"type": type(optimizer).__name__,
                                   "param_groups": saved["param_groups"], "state": steps})
    if scheduler is not None:
        if optimizer is None:
            raise ValueError("a scheduler is saved with its optimizer: give that optimizer too")
        meta["scheduler"] = _json({"type": type(scheduler).__name__,
                                   "state": _rnnkit_scheduler_state(scheduler.state_dict())})
    if random is not None:
        meta["random"] = random
    meta["metadata"] = _json(metadata or {})
    for name, t in (tensors or {}).items():
        out[f"tensors.{name}"] = t.detach()
    meta["sha256"] = _sha256(out)
    write_safetensors(path, out, meta)
