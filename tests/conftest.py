"""Shared fixtures: real AVSBench-format trees from the project's own synthetic generator."""
from __future__ import annotations

import os
from pathlib import Path

# Small models on 2 shared cores run several times faster single-threaded; CLI subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest

from avsbench_robust.data import synthetic

SHARED = Path(__file__).resolve().parents[2] / "shared"
TINY_VIDEOS = 2


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the embedded synthetic dataset of the test session out of the user's cache."""
    os.environ["AVSB_ROBUST_HOME"] = str(tmp_path_factory.mktemp("avsb_home"))


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic AVSBench tree with all subsets (seed 0, 2 clips per val/test split). Read-only."""
    root = tmp_path_factory.mktemp("synth") / "AVSBench"
    synthetic.generate(root, "all", TINY_VIDEOS, seed=0)
    return root


@pytest.fixture(scope="session")
def synth_counts() -> dict:
    """Clip counts the generator writes for the `synth_root` tree, per subset and split."""
    return {s.value: {k.value: v for k, v in d.items()} for s, d in synthetic.split_counts(TINY_VIDEOS).items()}
