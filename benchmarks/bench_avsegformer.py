"""AVSegFormer speed: frames/s of inference and of a training step (forward + backward + AdamW).

CPU default: the small config (narrow backbone, d_model 32) at 112 and 224 px.
GPU (`--device cuda`): the published model, e.g.
    python benchmarks/bench_avsegformer.py --device cuda --config full --backbone pvt_v2_b5 \
        --sizes 224 512 --dtypes fp32 bf16 --infer-batch 20 --train-batch 10
Inputs are random frames and log-mel (VGGish runs inside, as in the original forward).
"""
from __future__ import annotations

import argparse
import time

import torch

from avsbench_robust.models.avsegformer import avsegformer_model
from avsbench_robust.models.losses import avsegformer_seg_loss


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timeit(fn, device: torch.device, warmup: int, iters: int) -> float:
    """Median seconds per call after warm-up."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def bench(args: argparse.Namespace, size: int, dtype: str) -> tuple[float, float]:
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = avsegformer_model(args.backbone, args.subset, small=args.config == "small").to(device)
    model.freeze_backbone(False)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16")
    semantic = args.subset == "avss"

    def batch(n: int):
        frames = torch.randn(n, 3, size, size, device=device)
        audio = torch.randn(n, 1, 96, 64, device=device)
        if semantic:
            target = torch.randint(0, 71, (n, size, size), device=device)
        else:
            target = (torch.rand(n, 1, size, size, device=device) > 0.5).float()
        return frames, audio, target

    frames, audio, _ = batch(args.infer_batch)
    model.eval()

    @torch.inference_mode()
    def infer() -> None:
        with autocast:
            model(frames, audio)

    t_inf = _timeit(infer, device, args.warmup, args.iters)

    model.train()
    tframes, taudio, target = batch(args.train_batch)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)

    def step() -> None:
        with autocast:
            out = model(tframes, taudio)
            seg, mix = avsegformer_seg_loss(out, target, torch.ones(target.shape[0], device=device), semantic, 0.1)
            loss = seg + mix
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t_train = _timeit(step, device, args.warmup, args.iters)
    return args.infer_batch / t_inf, args.train_batch / t_train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--config", choices=("small", "full"), default=None, help="default: small on CPU, full on GPU")
    ap.add_argument("--backbone", default=None, help="default: resnet50 on CPU, pvt_v2_b5 on GPU")
    ap.add_argument("--subset", default="s4")
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--dtypes", nargs="+", choices=("fp32", "bf16"), default=["fp32"])
    ap.add_argument("--infer-batch", type=int, default=None)
    ap.add_argument("--train-batch", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    gpu = args.device.startswith("cuda")
    args.config = args.config or ("full" if gpu else "small")
    args.backbone = args.backbone or ("pvt_v2_b5" if gpu else "resnet50")
    args.sizes = args.sizes or ([224, 512] if gpu else [112, 224])
    args.infer_batch = args.infer_batch or (20 if gpu else 10)
    args.train_batch = args.train_batch or (10 if gpu else 5)
    if args.threads:
        torch.set_num_threads(args.threads)
    if gpu:
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
        torch.backends.cudnn.allow_tf32 = False
    where = torch.cuda.get_device_name(0) if gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"AVSegFormer {args.config} {args.backbone} {args.subset} on {where} (torch {torch.__version__}); "
          f"batch infer {args.infer_batch} / train {args.train_batch} frames; median of {args.iters}")
    print(f"{'size':>5} {'dtype':>5} {'infer frames/s':>15} {'train frames/s':>15}")
    for size in args.sizes:
        for dtype in args.dtypes:
            inf, tr = bench(args, size, dtype)
            print(f"{size:>5} {dtype:>5} {inf:>15.1f} {tr:>15.1f}", flush=True)


if __name__ == "__main__":
    main()
