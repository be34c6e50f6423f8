"""Load the standard pretrained files from local paths, mapped onto our parameter names.

Files (looked up by these names in `--weights-dir`):
- `resnet50-19c8e357.pth` (torchvision ResNet-50): conv1/bn1/layer1/layer2 keep their names;
  `layer3.*` fills BOTH `layer3_1.*` and `layer3_2.*`, `layer4.*` fills `layer4_1.*` and `layer4_2.*`;
  `fc.*` is dropped. BN `num_batches_tracked` keeps the model's value (absent from the file).
- `pvt_v2_b5.pth`: identity names; keys the backbone lacks (`head.*`) are dropped.
- `vggish-10086976.pth`: identity names, strict.
Every file is read with `torch.load(weights_only=True)`: plain tensors only, nothing is unpickled
or executed. Problems raise InputFileError naming the file.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import InputFileError

RESNET50_FILE = "resnet50-19c8e357.pth"
PVT_V2_B5_FILE = "pvt_v2_b5.pth"
VGGISH_FILE = "vggish-10086976.pth"
BACKBONE_FILES = {"resnet50": RESNET50_FILE, "pvt_v2_b5": PVT_V2_B5_FILE}


def read_npz_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A flat {name: tensor} from a .npz (one array per parameter): the pickle-free format of shipped weights.

    Read with `allow_pickle=False`, so an object array (the only way an .npz can carry a pickle) is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "weights file not found")
    out: dict[str, torch.Tensor] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for name in npz.files:
                arr = npz[name]
                if arr.dtype.kind not in "fiub":
                    raise InputFileError(path, f"array {name!r} has dtype {arr.dtype}; expected numbers")
                out[name] = torch.from_numpy(np.array(arr))
    except InputFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(path, f"not a plain .npz of arrays (loaded with allow_pickle=False): {first}") from None
    if not out:
        raise InputFileError(path, "holds no arrays")
    return out


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A flat {name: tensor} from a .pth file (or an .npz); unwraps a single `state_dict`/`model` level."""
    path = Path(path)
    if path.suffix == ".npz":
        return read_npz_state_dict(path)
    if not path.is_file():
        raise InputFileError(path, "weights file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure is "not a plain tensor file"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(path, f"not a plain tensor state dict (loaded with weights_only=True): {first}") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, dict) and set(obj) == {wrapper} and isinstance(obj[wrapper], dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise InputFileError(path, "expected a dict of named tensors")
    return obj


def map_resnet50(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision names -> B2_ResNet names (both branches from layer3/layer4), fc dropped."""
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        m = re.match(r"layer([34])\.(.*)", k)
        if m:
            out[f"layer{m.group(1)}_1.{m.group(2)}"] = v
            out[f"layer{m.group(1)}_2.{m.group(2)}"] = v
        elif not k.startswith("fc."):
            out[k] = v
    return out


class ShapeMismatchError(InputFileError):
    """The file has the right names but another network size (e.g. a full-size file for a narrow model)."""


def _load_into(module: nn.Module, mapped: dict[str, torch.Tensor], path: Path, *, drop_extra: bool) -> list[str]:
    """Copy tensors into `module`; every model tensor except BN counters must be filled. Returns dropped keys."""
    own = module.state_dict()
    extra = sorted(k for k in mapped if k not in own)
    if extra and not drop_extra:
        raise InputFileError(path, f"{len(extra)} unexpected key(s), e.g. {', '.join(extra[:3])}")
    missing = sorted(k for k in own if k not in mapped and not k.endswith("num_batches_tracked"))
    if missing:
        raise InputFileError(path, f"{len(missing)} key(s) missing for this model, e.g. {', '.join(missing[:3])}")
    bad = [f"{k} {tuple(mapped[k].shape)} vs {tuple(own[k].shape)}" for k in own if k in mapped and mapped[k].shape != own[k].shape]
    if bad:
        raise ShapeMismatchError(path, f"shape mismatch: {'; '.join(bad[:3])}")
    merged = {k: mapped.get(k, v) for k, v in own.items()}
    module.load_state_dict(merged, strict=True)
    return extra


def load_backbone(backbone: nn.Module, name: str, path: str | Path) -> list[str]:
    """Fill a backbone (`resnet50` or `pvt_v2_b5`, full or narrow) from its file; returns dropped keys.

    The file is the released ImageNet one or one written by `avsb-robust pretrain` (same names and keys)."""
    path = Path(path)
    sd = read_state_dict(path)
    if name == "resnet50":
        expected_extra = {k for k in sd if k.startswith("fc.")}
        mapped = map_resnet50(sd)
        if not any(k.startswith("layer3_2.") for k in backbone.state_dict()):  # narrow: no second branch
            mapped = {k: v for k, v in mapped.items() if not k.startswith(("layer3_2.", "layer4_2."))}
        dropped = _load_into(backbone, mapped, path, drop_extra=False)
        return sorted(expected_extra) + dropped
    if name == "pvt_v2_b5":
        return _load_into(backbone, sd, path, drop_extra=True)
    raise ValueError(f"unknown backbone {name!r}")


def load_vggish(model: nn.Module, path: str | Path) -> None:
    """Strict identity load of the released VGGish weights."""
    path = Path(path)
    _load_into(model, read_state_dict(path), path, drop_extra=False)


def find_weights(weights_dir: str | Path | None) -> dict[str, Path]:
    """Which standard files exist in `weights_dir` ({'resnet50'|'pvt_v2_b5'|'vggish': path})."""
    if weights_dir is None:
        return {}
    d = Path(weights_dir)
    if not d.is_dir():
        raise InputFileError(d, "weights directory not found")
    names = {"resnet50": RESNET50_FILE, "pvt_v2_b5": PVT_V2_B5_FILE, "vggish": VGGISH_FILE}
    return {k: d / f for k, f in names.items() if (d / f).is_file()}
