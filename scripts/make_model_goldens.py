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
    if importlib.util.find_spec("resampy") is None:  # AVSegFormer's wav front end, not used here
        sys.modules["resampy"] = types.ModuleType("resampy")
    # AVSegFormer's compiled deformable-attention op: an empty module makes its own pure-PyTorch
    # fallback run (its forward catches the missing function)
    sys.modules.setdefault("MultiScaleDeformableAttention", types.ModuleType("MultiScaleDeformableAttention"))


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


def tpavi_inputs(seed: int) -> dict[str, np.ndarray]:
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
            x = {k: torch.from_numpy(v) for k, v in tpavi_inputs(seed).items()}
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


# ---------------------------------------------------------------- AVSegFormer
def avsegformer_case_seed(subset: str) -> int:
    return 9100 + ("s4", "ms3", "avss").index(subset)


def original_avsegformer(orig: Path, subset: str):
    """build_model(**cfg.model) of config/<task>/AVSegFormer_pvt2_<task>.py, without pretrained files
    (init_weights_path None, VGGish not loaded: every weight is overwritten; the model still freezes it) and
    with log-mel input (the AVSS config's wav front end is replaced by ours, which has its own parity)."""
    base = orig / "AVSegFormer"
    ns: dict = {}
    exec(compile((base / "config" / subset / f"AVSegFormer_pvt2_{subset}.py").read_text(), "config", "exec"), ns)
    cfg = ns["model"]
    cfg["backbone"]["init_weights_path"] = None
    cfg["vggish"].update(freeze_audio_extractor=False, preprocess_audio_to_log_mel=False)
    with _original_package(base, "ops"), _original_package(base, "model"):
        return importlib.import_module("model").build_model(**cfg)


def make_avsegformer(orig: Path, cases: dict) -> dict[str, float]:
    from avsbench_robust.models.avsegformer import avsegformer_model

    stats = {}
    for subset in ("s4", "avss"):
        seed = avsegformer_case_seed(subset)
        ours = avsegformer_model("pvt_v2_b5", subset).double().eval()
        state = seeded_state_dict(ours.state_dict(), seed)
        ours.load_state_dict(state, strict=True)
        theirs = original_avsegformer(orig, subset).double().eval()
        theirs.load_state_dict(state, strict=True)
        x = {k: torch.from_numpy(v) for k, v in seeded_inputs(seed + 500, {
            "frames": (FRAMES, 3, SIZE, SIZE), "audio": (FRAMES, 1, 96, 64)}).items()}
        mask = torch.tensor(AVSS_FRAME_MASK, dtype=torch.float64) if subset == "avss" else None
        with torch.no_grad():
            pred, mask_feature = theirs(x["audio"], x["frames"], mask)
            mine = ours(x["frames"], x["audio"], mask)
        arrays = {"logits": _np(pred), "mask_feature": _np(mask_feature)}
        name = f"avsegformer_pvt_v2_b5_{subset}"
        cases[name] = {"model": "avsegformer", "backbone": "pvt_v2_b5", "subset": subset, "weights_seed": seed,
                       "inputs_seed": seed + 500, "frames": FRAMES, "size": SIZE,
                       "frame_mask": list(AVSS_FRAME_MASK) if subset == "avss" else None}
        kept = {}
        for k, v in arrays.items():
            kept.update(fingerprint(k, v))
        np.savez_compressed(OUT / f"{name}.npz", **kept)
        diff = max(float(np.abs(arrays["logits"] - _np(mine.logits)).max()),
                   float(np.abs(arrays["mask_feature"] - _np(mine.extra["mask_feature"])).max()))
        stats[name] = diff
        print(f"{name}: seed {seed}, |logits| max {np.abs(arrays['logits']).max():.3g}, ours vs original max|diff| {diff:.3g}")
        del ours, theirs, state
    return stats


# ---------------------------------------------------------------- training losses
# Each case: the inputs (seeded, drawn in this order) and how the ORIGINAL train.py calls its loss.
# Two clips of 5 frames at 16 px; stage maps 16/8/4/2 px with 16 channels (the losses are size-agnostic).
# Clip 2 is an empty-GT negative in the *_negative cases (positive = 0): the segmentation loss sees it as
# the original would, L_AVM skips it (ours: its audio is not the visible object's), so the golden calls the
# original L_AVM on the positive clip alone.
LOSS_N, LOSS_T, LOSS_S, LOSS_C, LOSS_K = 10, 5, 16, 16, 71
STAGE_SIZES = (16, 8, 4, 2)


def loss_case_specs(subset: str) -> dict[str, tuple]:
    k = LOSS_K if subset == "avss" else 1
    specs: dict[str, tuple] = {"logits": (LOSS_N, k, LOSS_S, LOSS_S), "mask_feature": (LOSS_N, LOSS_C, 4, 4)}
    for i, s in enumerate(STAGE_SIZES):
        specs[f"v_map_{i}"] = (LOSS_N, LOSS_C, s, s)
        specs[f"a_fea_{i}"] = (LOSS_N // LOSS_T, LOSS_T, LOSS_C)
    specs["gt"] = ("classes", (LOSS_N, LOSS_S, LOSS_S), LOSS_K) if subset == "avss" else ("binary", (LOSS_N, 1, LOSS_S, LOSS_S), 0.4)
    return specs


def loss_cases() -> dict[str, dict]:
    """name -> {model, subset, negative, frame_mask (AVSS: clip 1 has 3 real frames)}."""
    out = {}
    for model in ("tpavi", "avsegformer"):
        for subset in ("s4", "ms3", "avss"):
            for negative in (False, True):
                out[f"loss_{model}_{subset}" + ("_negative" if negative else "")] = {
                    "model": "loss", "loss_of": model, "subset": subset, "negative": negative,
                    "inputs_seed": 9200 + 10 * ("tpavi", "avsegformer").index(model) + 2 * ("s4", "ms3", "avss").index(subset) + negative,
                    "frame_mask": [1, 1, 1, 0, 0, 1, 1, 1, 1, 1] if subset == "avss" else None}
    return out


def loss_batch(case: dict) -> dict[str, torch.Tensor]:
    """The seeded inputs of one loss case, with the structure the models produce: empty GT on the negative
    clip, zero logits/maps/GT on padded AVSS frames (the models multiply by the frame mask)."""
    x = {k: torch.from_numpy(v) for k, v in seeded_inputs(case["inputs_seed"], loss_case_specs(case["subset"])).items()}
    if case["negative"]:
        x["gt"][LOSS_T:] = 0
    if case["frame_mask"] is not None:
        m = torch.tensor(case["frame_mask"], dtype=torch.float64)
        for key in ["logits", "mask_feature", "gt"] + [f"v_map_{i}" for i in range(4)]:
            x[key] = x[key] * m.view(-1, *([1] * (x[key].dim() - 1))).to(x[key].dtype)
    return x


def original_loss(orig: Path, case: dict) -> dict[str, float]:
    """The loss as the original train.py calls it (train.sh flags), on loss_batch(case)."""
    model, subset = case["loss_of"], case["subset"]
    x = loss_batch(case)
    v_maps = [x[f"v_map_{i}"] for i in range(4)]
    a_feas = [x[f"a_fea_{i}"] for i in range(4)]
    logits, gt = x["logits"].requires_grad_(), x["gt"]  # the originals assert a graph on their inputs
    x["mask_feature"].requires_grad_()
    if model == "tpavi":
        base = orig / "AVSBench" / "avs_scripts" / SUBSET_DIR[subset]
    else:
        base = orig / "AVSegFormer" / "scripts" / subset
    spec = importlib.util.spec_from_file_location(f"orig_loss_{model}_{subset}", base / "loss.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    keep = slice(0, LOSS_T) if case["negative"] else slice(0, LOSS_N)  # L_AVM: positive pairs only
    if model == "tpavi" and subset == "s4":  # train.sh: no --sa_loss_flag, lambda_1 0
        first = gt[0::LOSS_T].unsqueeze(1)  # mask.unsqueeze(1).unsqueeze(1): [bs,1,1,H,W]
        total, parts = mod.IouSemanticAwareLoss(logits, first, a_feas, v_maps, lambda_1=0, count_stages=[],
                                                sa_loss_flag=False, mask_pooling_type="avg")
        return {"total": float(total), "seg": parts["iou_loss"]}
    if model == "tpavi":
        flags = dict(count_stages=[0, 1, 2, 3], mask_pooling_type="avg", norm_fea=False, threshold=False,
                     euclidean_flag=False, kl_flag=True)
        if subset == "ms3":
            seg = mod.F5_IoU_BCELoss(logits, gt)
            avm = mod.A_MaskedV_SimmLoss(logits[keep], [a[keep.start // LOSS_T:keep.stop // LOSS_T] for a in a_feas],
                                         [v[keep] for v in v_maps], **flags)
            total, parts = mod.IouSemanticAwareLoss(logits, gt, a_feas, v_maps, sa_loss_flag=True, lambda_1=0.5,
                                                    closer_flag=False, **flags)
        else:
            gflag = torch.tensor(case["frame_mask"], dtype=torch.float64)
            seg = mod.F10_IoU_BCELoss(logits, gt, gflag)
            avm = mod.A_MaskedV_SimmLoss(logits[keep], [a[keep.start // LOSS_T:keep.stop // LOSS_T] for a in a_feas],
                                         [v[keep] for v in v_maps], gflag[keep], **flags)
            total, parts = mod.IouSemanticAwareLoss(logits, gt, a_feas, v_maps, gflag, sa_loss_flag=True, lambda_1=0.5,
                                                    closer_flag=False, **flags)
        # total as train.py computes it on a positive-only batch; with a negative clip, ours = seg + 0.5 * avm(positives)
        return {"total": float(seg + 0.5 * avm), "seg": float(seg), "avm": float(avm),
                "original_total_all_frames": float(total)}
    weights = {"iou_loss": 1.0, "mix_loss": 0.1}
    if subset == "avss":
        gflag = torch.tensor(case["frame_mask"], dtype=torch.float64)
        total, parts = mod.IouSemanticAwareLoss(logits, x["mask_feature"], gt, gflag, weight_dict=weights)
    elif subset == "s4":
        total, parts = mod.IouSemanticAwareLoss(logits, x["mask_feature"], gt[0::LOSS_T].unsqueeze(1),
                                                weight_dict=weights, loss_type="dice")
    else:
        total, parts = mod.IouSemanticAwareLoss(logits, x["mask_feature"], gt, weight_dict=weights, loss_type="dice")
    return {"total": float(total), "seg": parts["iou_loss"], "mix": parts["mix_loss"]}


def ours_loss(case: dict) -> dict[str, float]:
    """Our train.py's call on the same batch (models.losses.total_loss with the default TrainConfig)."""
    from avsbench_robust.models.configs import model_config, train_config
    from avsbench_robust.models.losses import total_loss
    from avsbench_robust.models.tpavi import AVSOutput

    x = loss_batch(case)
    mcfg = model_config(case["loss_of"], "pvt_v2_b5", case["subset"])
    tcfg = train_config(mcfg)
    out = AVSOutput(logits=x["logits"], feature_maps=[x[f"v_map_{i}"] for i in range(4)],
                    audio_feats=[x[f"a_fea_{i}"] for i in range(4)],
                    extra={"mix_logits": x["mask_feature"].mean(1, keepdim=True)})
    t = LOSS_N
    valid = torch.ones(t, dtype=torch.float64)
    if case["subset"] == "s4":
        valid = torch.zeros(t, dtype=torch.float64)
        valid[0::LOSS_T] = 1
    fmask = None if case["frame_mask"] is None else torch.tensor(case["frame_mask"], dtype=torch.float64)
    if fmask is not None:
        valid = valid * fmask
    positive = torch.ones(t, dtype=torch.float64)
    if case["negative"]:
        positive[LOSS_T:] = 0
    _, parts = total_loss(mcfg, tcfg, out, x["gt"], valid, positive, fmask)
    return parts


def make_losses(orig: Path, cases: dict) -> dict[str, float]:
    stats = {}
    golden = {}
    for name, case in loss_cases().items():
        theirs = original_loss(orig, case)
        mine = ours_loss(case)
        cases[name] = case
        golden[name] = theirs
        diff = max(abs(theirs[k] - mine[k]) for k in theirs if k in mine)
        stats[name] = diff
        print(f"{name}: original {theirs}, ours {mine}, max|diff| {diff:.3g}")
    (OUT / "losses.json").write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
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
    if args.only in (None, "avsegformer"):
        stats.update(make_avsegformer(args.orig, cases))
    if args.only in (None, "losses"):
        stats.update(make_losses(args.orig, cases))
    index.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
