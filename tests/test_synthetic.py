"""The synthetic generator: same seed -> same bytes, content that makes the benchmark meaningful."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from avsbench_robust.data import synthetic
from avsbench_robust.data.avsbench import load_index, read_mask
from avsbench_robust.errors import AVSBRobustError


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = (synthetic.generate(tmp_path / n, ["s4", "avss"], videos=1, seed=s) for n, s in
               (("a", 3), ("b", 3), ("c", 4)))
    assert a == b
    da, db, dc = (tree_digest(tmp_path / n) for n in "abc")
    assert da == db
    assert da != dc


def test_rerun_into_same_folder_is_identical(tmp_path: Path) -> None:
    synthetic.generate(tmp_path / "x", "ms3", videos=1, seed=1)
    before = tree_digest(tmp_path / "x")
    synthetic.generate(tmp_path / "x", "ms3", videos=1, seed=1)
    assert tree_digest(tmp_path / "x") == before


def test_refuses_non_synthetic_folder(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("data")
    with pytest.raises(AVSBRobustError, match="refusing"):
        synthetic.generate(tmp_path, "s4", videos=1)


def test_masks_cover_only_heard_objects() -> None:
    p = synthetic.plan(seed=0, videos=2)
    clip = next(c for c in p.ms3 if any(not o.sounding for o in c.objects))
    r = synthetic.render_clip(clip)
    heard = {o.cls for o in clip.objects if o.sounding}
    silent = {o.cls for o in clip.objects if not o.sounding}
    assert set(np.unique(r.classes)) - {0} == heard
    # a silent object is visible: pixels of its colour exist outside the mask
    colour = np.array(synthetic.class_colour(next(iter(silent))))
    visible = (np.abs(r.frames[0].astype(int) - colour).sum(-1) < 40) | (
        np.abs(r.frames[0].astype(int) - (colour * 0.7).round()).sum(-1) < 40)
    assert (visible & (r.masks[0] == 0)).sum() > 200


def test_each_class_sounds_different() -> None:
    spectra = []
    for cls in range(1, 71):
        x = synthetic.class_sound(cls, 1.0)
        mag = np.abs(np.fft.rfft(x))
        spectra.append(mag / np.linalg.norm(mag))
    sim = np.array(spectra) @ np.array(spectra).T
    np.fill_diagonal(sim, 0)
    assert sim.max() < 0.99


def test_audio_and_sizes_on_disk(synth_root: Path) -> None:
    import soundfile as sf

    index = load_index(synth_root, "avss", "test")
    v2 = index[index["label"] == "v2"].iloc[0]
    info = sf.info(v2["audio_path"])
    assert (info.samplerate, info.channels, info.subtype, info.duration) == (16000, 1, "PCM_16", 10.0)
    s4 = load_index(synth_root, "s4", "test").iloc[0]
    info = sf.info(s4["audio_path"])
    assert info.duration == 5.0
    assert read_mask(s4["mask_path"], "s4").shape == (224, 224)


def test_rerun_with_fewer_videos_leaves_no_stale_clips(tmp_path: Path) -> None:
    synthetic.generate(tmp_path / "x", "s4", videos=2, seed=1)
    synthetic.generate(tmp_path / "x", "s4", videos=1, seed=1)
    synthetic.generate(tmp_path / "fresh", "s4", videos=1, seed=1)
    assert tree_digest(tmp_path / "x") == tree_digest(tmp_path / "fresh")
