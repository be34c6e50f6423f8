"""avsbench-robust: build, score and rank AVSBench-Robust (audio-visual segmentation under negative audio).

The public API (imported lazily, so `import avsbench_robust` stays cheap and torch stays optional):

    load_index(root, subset, split)      one row per frame of an AVSBench copy
    generate_synthetic(out, ...)         a synthetic tree in the exact AVSBench layout
    build(...)                           the negative-audio conditions and their VGGish features
    score(pred_dir, subset, ...)         per-condition and global metrics of a prediction folder
    Scorer                               streaming scorer for eval loops (numpy or torch, CPU or GPU)
    Results                              the results document
    miou, f_score, fpr                   one-line metrics of one prediction / GT pair
    paired_bootstrap(a, b)               the difference of two Results with its bootstrap interval
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from ._version import __version__
from .types import AVSSLabel, Condition, Split, Subset

_LAZY = {
    "load_index": ("avsbench_robust.data.avsbench", "load_index"),
    "generate_synthetic": ("avsbench_robust.data.synthetic", "generate"),
    "build": ("avsbench_robust.build.run", "build"),
    "score": ("avsbench_robust.scoring", "score"),
    "Scorer": ("avsbench_robust.scorer", "Scorer"),
    "Results": ("avsbench_robust.results", "Results"),
    "miou": ("avsbench_robust.metrics.functional", "miou"),
    "f_score": ("avsbench_robust.metrics.functional", "f_score"),
    "fpr": ("avsbench_robust.metrics.functional", "fpr"),
    "paired_bootstrap": ("avsbench_robust.intervals", "paired_bootstrap"),
}

__all__ = ["__version__", "AVSSLabel", "Condition", "Split", "Subset", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'avsbench_robust' has no attribute {name!r}")
