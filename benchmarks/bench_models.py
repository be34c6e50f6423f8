"""Frames/s of inference and of a training step (forward + backward + Adam step) for the reference models.

    python benchmarks/bench_models.py                       # small configs, CPU (every model available)
    python benchmarks/bench_models.py --config full --device cuda --clips 4 --amp bf16 --models tpavi:pvt_v2_b5

Frames = clips x 5 (S4). Prints one line per model and mode; the median of `--repeat` timed runs after
`--warmup` untimed ones. Random inputs (speed only depends on shapes).
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from avsbench_robust.models import AVSNet, model_config, train_config
from avsbench_robust.models.losses import total_loss

ALL = ("tpavi:resnet50", "tpavi:pvt_v2_b5", "avsegformer:resnet50", "avsegformer:pvt_v2_b5")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench(model: str, backbone: str, size: str, clips: int, image: int | None, device: torch.device, amp: str,
          warmup: int, repeat: int, cgsl: bool) -> dict:
    cfg = model_config(model, backbone, "s4", size, cgsl=cgsl)
    if image:
        cfg = dataclasses.replace(cfg, image_size=image)
    tcfg = train_config(cfg)
    net = AVSNet(cfg).to(device)
    n = clips * cfg.frames
    frames = torch.randn(n, 3, cfg.image_size, cfg.image_size, device=device)
    audio = torch.randn(n, 1, 96, 64, device=device)
    gt = (torch.rand(n, 1, cfg.image_size, cfg.image_size, device=device) > 0.5).float()
    ones = torch.ones(n, device=device)
    ctx = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if amp == "bf16" else (lambda: torch.autocast(device.type, enabled=False))
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-5)

    def infer() -> None:
        with torch.no_grad(), ctx():
            net(frames, audio)

    def step() -> None:
        with ctx():
            out = net(frames, audio)
        loss, _ = total_loss(cfg, tcfg, out, gt, ones, ones)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    res = {}
    for mode, fn in (("infer", infer), ("train", step)):
        net.train(mode == "train")
        for _ in range(warmup):
            fn()
        _sync(device)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times.append(time.perf_counter() - t0)
        res[mode] = n / statistics.median(times)
    res["params_M"] = sum(p.numel() for p in net.parameters()) / 1e6
    res["image"] = cfg.image_size
    res["frames"] = n
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(ALL), help="comma list of model:backbone")
    ap.add_argument("--config", default="small", choices=["small", "full"])
    ap.add_argument("--image", type=int, default=None, help="override the config's input size")
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cgsl", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"# device={device} torch={torch.__version__} threads={torch.get_num_threads()} config={args.config} amp={args.amp}")
    for item in args.models.split(","):
        model, backbone = item.split(":")
        try:
            r = bench(model, backbone, args.config, args.clips, args.image, device, args.amp, args.warmup, args.repeat, args.cgsl)
        except (ImportError, AttributeError, NotImplementedError) as exc:
            print(f"{model:12s} {backbone:10s} skipped: {type(exc).__name__}: {exc}")
            continue
        print(f"{model:12s} {backbone:10s} {r['image']:4d}px frames={r['frames']:3d} params={r['params_M']:7.2f}M "
              f"infer={r['infer']:8.1f} fr/s  train-step={r['train']:7.1f} fr/s")


if __name__ == "__main__":
    main()
