#!/usr/bin/env python
"""Golden outputs of the ORIGINAL TPAVI / AVSegFormer code for the parity tests (tests/test_models_goldens.py).

    python scripts/make_model_goldens.py --orig /path/to/originals [--only tpavi|avsegformer|losses]

`--orig` holds local clones of OpenNLPLab/AVSBench (as `AVSBench/`) and vvvb-github/AVSegFormer (as
`AVSegFormer/`). Their modules are imported from there, unmodified: at run time only, `Tensor.cuda` is
made a no-op, the pretrained-weight loaders that run in their constructors are skipped (every weight is
overwritten anyway), and, where `timm`/`torchvision` are not installed, the few names their model files
import are provided by tiny stand-ins (DropPath is the identity: everything runs in eval mode).

Weights: `avsbench_robust.models.seeded.seeded_state_dict(our_state_dict, seed)` (numpy, state-dict
order), loaded strict=True into both models; inputs from `seeded_inputs`. Everything in float64.
Only outputs are written (tests/data/model_goldens/*.npz): the tests rebuild the weights from the seed.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avsbench_robust.models.seeded import fingerprint, seeded_inputs, seeded_state_dict  # noqa: E402

OUT = REPO / "tests" / "data" / "model_goldens"
SUBSET_DIR = {"s4": "avs_s4", "ms3": "avs_ms3", "avss": "avss"}
FRAMES, SIZE = 5, 64
AVSS_FRAME_MASK = (1.0, 1.0, 1.0, 0.0, 0.0)  # padding inside one 5-frame TPAVI window


# ---------------------------------------------------------------- environment for the originals
def _stand_in_modules() -> None:
    """Register minimal `timm` / `torchvision.models` names when those packages are absent."""
    if importlib.util.find_spec("timm") is None:
        from torch import nn

        class DropPath(nn.Identity):  # eval mode: stochastic depth is the identity
            def __init__(self, *args, **kwargs) -> None:
                super().__init__()

        def to_2tuple(x):
            return tuple(x) if isinstance(x, (tuple, list)) else (x, x)

        def trunc_normal_(tensor, std=1.0, **kwargs):
            with torch.no_grad():
                return tensor.normal_(0.0, std)

        layers = types.ModuleType("timm.models.layers")
        layers.DropPath, layers.to_2tuple, layers.trunc_normal_ = DropPath, to_2tuple, trunc_normal_
        registry = types.ModuleType("timm.models.registry")
        registry.register_model = lambda f: f
        vit = types.ModuleType("timm.models.vision_transformer")
        vit._cfg = lambda **kw: dict(kw)
        models = types.ModuleType("timm.models")
        models.layers, models.registry, models.vision_transformer = layers, registry, vit
        timm = types.ModuleType("timm")
        timm.models = models
        sys.modules.update({"timm": timm, "timm.models": models, "timm.models.layers": layers,
                            "timm.models.registry": registry, "timm.models.vision_transformer": vit})
    if importlib.util.find_spec("torchvision") is None:
        tv = types.ModuleType("torchvision")
        tv.models = types.ModuleType("torchvision.models")
        sys.modules.update({"torchvision": tv, "torchvision.models": tv.models})


@contextlib.contextmanager
def _original_package(root: Path, package: str, aliases: dict[str, Path] | None = None):
    """Import `package` (e.g. `model`) from `root`, isolated from other originals' same-named packages."""
    def purge() -> None:
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]

    purge()
    sys.path.insert(0, str(root))
    try:
        for name, path in (aliases or {}).items():
            spec = importlib.util.spec_from_file_location(name, path)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
        yield
    finally:
        sys.path.remove(str(root))
        purge()


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy().astype(np.float64)


# ---------------------------------------------------------------- TPAVI
def tpavi_case_seed(backbone: str, subset: str) -> int:
    return 9000 + 10 * ("resnet50", "pvt_v2_b5").index(backbone) + ("s4", "ms3", "avss").index(subset)


def tpavi_inputs(seed: int, num_classes: int) -> dict[str, np.ndarray]:
    return seeded_inputs(seed + 500, {"frames": (FRAMES, 3, SIZE, SIZE), "audio": (FRAMES, 128)})


def original_tpavi(orig: Path, backbone: str, subset: str):
    base = orig / "AVSBench" / "avs_scripts" / SUBSET_DIR[subset]
    aliases = {}
    if backbone == "pvt_v2_b5" and not (base / "model" / "pvt.py").is_file():
        # the AVSS folder imports model.pvt but ships none: use the (identical) S4/MS3 file
        aliases = {"model": base / "model" / "__init__.py", "model.pvt": orig / "AVSBench" / "avs_scripts" / "avs_ms3" / "model" / "pvt.py"}
    with _original_package(base, "model", aliases):
        mod = importlib.import_module("model.PVT_AVSModel" if backbone == "pvt_v2_b5" else "model.ResNet_AVSModel")
        cls = mod.Pred_endecoder
        skip = "initialize_pvt_weights" if backbone == "pvt_v2_b5" else "initialize_weights"
        saved = getattr(cls, skip)
        setattr(cls, skip, lambda self: None)  # pretrained ImageNet weights are overwritten anyway
        try:
            cfg = types.SimpleNamespace(NUM_CLASSES=71, TRAIN=types.SimpleNamespace())
            net = cls(channel=256, config=cfg, tpavi_stages=[0, 1, 2, 3], tpavi_va_flag=True)
        finally:
            setattr(cls, skip, saved)
    return net


def make_tpavi(orig: Path, cases: dict) -> dict[str, float]:
    from avsbench_robust.models.tpavi import tpavi_official

    stats = {}
    for backbone in ("resnet50", "pvt_v2_b5"):
        for subset in ("s4", "ms3", "avss"):
            seed = tpavi_case_seed(backbone, subset)
            ours = tpavi_official(backbone, subset).double().eval()
            state = seeded_state_dict(ours.state_dict(), seed)
            ours.load_state_dict(state, strict=True)
            theirs = original_tpavi(orig, backbone, subset).double().eval()
            theirs.load_state_dict(state, strict=True)
            x = {k: torch.from_numpy(v) for k, v in tpavi_inputs(seed, ours.num_classes).items()}
            with torch.no_grad():
                if subset == "avss":
                    mask = torch.tensor(AVSS_FRAME_MASK, dtype=torch.float64)
                    # as the AVSS train/test scripts call it: embeddings x frame mask, then the model
                    pred, fmaps, afeas = theirs(x["frames"], x["audio"] * mask.unsqueeze(-1), mask)
                    mine = ours(x["frames"], x["audio"], mask)
                else:
                    pred, fmaps, afeas = theirs(x["frames"], x["audio"])
                    mine = ours(x["frames"], x["audio"])
            arrays = {"logits": _np(pred)}
            arrays.update({f"feature_map_{i}": _np(f) for i, f in enumerate(fmaps)})
            arrays.update({f"audio_feat_{i}": _np(a) for i, a in enumerate(afeas)})
            name = f"tpavi_{backbone}_{subset}"
            cases[name] = {"model": "tpavi", "backbone": backbone, "subset": subset, "weights_seed": seed,
                           "inputs_seed": seed + 500, "frames": FRAMES, "size": SIZE,
                           "frame_mask": list(AVSS_FRAME_MASK) if subset == "avss" else None}
            kept = {}
            for k, v in arrays.items():
                kept.update(fingerprint(k, v))
            np.savez_compressed(OUT / f"{name}.npz", **kept)
            diff = max(float(np.abs(arrays["logits"] - _np(mine.logits)).max()),
                       *(float(np.abs(arrays[f"feature_map_{i}"] - _np(f)).max()) for i, f in enumerate(mine.feature_maps)))
            stats[name] = diff
            print(f"{name}: seed {seed}, |logits| max {np.abs(arrays['logits']).max():.3g}, ours vs original max|diff| {diff:.3g}")
            del ours, theirs, state
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--orig", type=Path, required=True, help="folder holding AVSBench/ and AVSegFormer/ clones")
    ap.add_argument("--only", choices=("tpavi", "avsegformer", "losses"), default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.Tensor.cuda = lambda self, *a, **k: self  # the originals call .cuda() inside forward
    _stand_in_modules()
    OUT.mkdir(parents=True, exist_ok=True)
    index = OUT / "cases.json"
    known = json.loads(index.read_text()) if index.is_file() else {"cases": {}, "ours_vs_original_max_abs_diff": {}}
    cases, stats = known["cases"], known["ours_vs_original_max_abs_diff"]
    if args.only in (None, "tpavi"):
        stats.update(make_tpavi(args.orig, cases))
    index.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
