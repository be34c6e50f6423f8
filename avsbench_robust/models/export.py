"""Export a training run as a pickle-free reference model folder: model.npz + checkpoint.json.

`model.pt` is a torch file (a zip of pickles, read with weights_only=True); a model we *ship* in the
repository should be loadable without any unpickler at all, so the state dict is stored as one
float32 array per parameter in a compressed .npz (integer buffers such as BN counters keep int64).
`avsb-robust predict --checkpoint FOLDER` reads either form (train.load_checkpoint).

    python -m avsbench_robust.models.export RUN[/model_best.pt] OUT_FOLDER
"""
from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ..io_utils import atomic_write_bytes, atomic_write_text
from ..provenance import portable_path

# Run-local facts that mean nothing once the model is shipped (kept under "exported_from" for the
# record, without their machine part).
_LOCAL_KEYS = ("root", "build_out", "weights_dir")


def _portable(value: "str | None") -> "str | None":
    """A recorded path without its machine part (older runs stored absolute paths)."""
    if value is None or not str(value).startswith(("/", "~")):
        return value
    return portable_path(value)


def state_to_arrays(state: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """{name: ndarray}: floating tensors as float32, everything else (counters) unchanged."""
    out = {}
    for name, t in state.items():
        t = t.detach().cpu()
        out[name] = (t.float() if t.is_floating_point() else t).numpy().copy()
    return out


def npz_compressed_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **dict(arrays))  # not ascontiguousarray: it turns 0-d counters into [1]
    return buf.getvalue()


def exported_meta(meta: dict, source_run: str) -> dict:
    """checkpoint.json of the export: the run's configs and history, local paths moved aside."""
    out = {k: v for k, v in meta.items() if k not in _LOCAL_KEYS}
    out["exported_from"] = {"run": portable_path(source_run),
                            **{k: _portable(meta.get(k)) for k in _LOCAL_KEYS}}
    out["weights"] = "model.npz (float32, np.savez_compressed; no pickle)"
    return out


def export_run(run: str | Path, out: str | Path) -> Path:
    """Write OUT/model.npz and OUT/checkpoint.json from a run folder (its last epoch) or from its
    model_best.pt (recorded as "weights_epoch"); returns OUT."""
    from ..train import BEST_FILE, CHECKPOINT_JSON, MODEL_NPZ, load_checkpoint

    run, out = Path(run), Path(out)
    meta, state = load_checkpoint(run)
    doc = exported_meta(meta, str(run.parent if run.is_file() else run))
    if run.name == BEST_FILE:  # the run went on after this epoch: say which weights these are
        doc["weights_epoch"] = meta["best"]
    atomic_write_bytes(out / MODEL_NPZ, npz_compressed_bytes(state_to_arrays(state)))
    atomic_write_text(out / CHECKPOINT_JSON, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return out


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    if len(sys.argv) != 3:
        print("usage: python -m avsbench_robust.models.export RUN OUT_FOLDER", file=sys.stderr)
        raise SystemExit(2)
    print(export_run(sys.argv[1], sys.argv[2]))
