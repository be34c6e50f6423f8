"""The AVSBench reader on real synthetic files: counts, quirks, and every failure path."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from avsbench_robust.data.avsbench import INDEX_COLUMNS, clip_table, load_index, read_frame, read_mask
from avsbench_robust.data.classes import AVSS_PALETTE
from avsbench_robust.errors import DatasetLayoutError, InputFileError, ValidationError


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avsbench_robust.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("subset", ["s4", "ms3"])
def test_counts_match_generator(synth_root: Path, synth_counts: dict, subset: str) -> None:
    index = load_index(synth_root, subset)
    assert list(index.columns) == list(INDEX_COLUMNS)
    for split, clips in synth_counts[subset].items():
        part = index[index["split"] == split]
        assert part["video"].nunique() == clips
        assert len(part) == 5 * clips
        masks = clips if (subset == "s4" and split == "train") else 5 * clips
        assert part["mask_path"].notna().sum() == masks


def test_avss_counts_include_v1_copies(synth_root: Path, synth_counts: dict) -> None:
    index = load_index(synth_root, "avss")
    clips = clip_table(index)
    for split in ("train", "val", "test"):
        c = clips[clips["split"] == split]
        assert (c["label"] == "v2").sum() == synth_counts["avss"][split]
        assert (c["label"] == "v1s").sum() == synth_counts["s4"][split]
        assert (c["label"] == "v1m").sum() == synth_counts["ms3"][split]
    v2 = index[index["label"] == "v2"]
    assert set(v2["frames_in_clip"]) == {10} and set(v2["audio_seconds"]) == {10.0}
    assert v2.groupby("video")["frame"].apply(list).map(lambda ks: ks == list(range(10))).all()
    # v1s train repeats S4 train: one annotated frame per clip
    v1s_train = index[(index["label"] == "v1s") & (index["split"] == "train")]
    assert v1s_train["mask_path"].notna().sum() == synth_counts["s4"]["train"]


def test_split_filter_and_order(synth_root: Path) -> None:
    test = load_index(synth_root, "s4", "test")
    assert set(test["split"]) == {"test"}
    csv = pd.read_csv(synth_root / "Single-source" / "s4_meta_data.csv")
    assert list(clip_table(test)["video"]) == list(csv[csv["split"] == "test"]["name"])
    assert list(test["t"]) == [t for _ in range(len(test) // 5) for t in range(5)]


def test_ms3_quirks(synth_root: Path) -> None:
    index = load_index(synth_root, "ms3", "test")
    row = index.iloc[0]
    assert row["frame_path"].endswith(f"visual_frames/{row['video']}/{row['video']}.mp4_1.png")
    assert row["mask_path"].endswith(f"gt_masks/test/{row['video']}/{row['video']}_1.png")
    assert row["frame"] == 1
    # objects come from the AVSS v1m rows of the same clip
    meta = pd.read_csv(synth_root / "AVSS" / "metadata.csv")
    v1m = meta[meta["label"] == "v1m"].set_index("vid")["a_obj"]
    for video, objects in clip_table(index)[["video", "objects"]].itertuples(index=False):
        assert objects == tuple(v1m[video].split("_")) and len(objects) >= 1


def test_ms3_objects_without_avss(synth_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(synth_root / "Multi-sources", root / "Multi-sources")
    index = load_index(root, "ms3", "test")
    assert set(index["objects"]) == {()}
    index = load_index(root, "ms3", "test", avss_metadata=synth_root / "AVSS" / "metadata.csv")
    assert all(len(o) >= 1 for o in index["objects"])


def test_s4_train_single_mask_and_masks_read(synth_root: Path) -> None:
    index = load_index(synth_root, "s4", "train")
    assert index.loc[index["t"] > 0, "mask_path"].isna().all()
    first = index[index["t"] == 0].iloc[0]
    mask = read_mask(first["mask_path"], "s4")
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1} and mask.any()
    assert read_frame(first["frame_path"]).shape == (224, 224, 3)


def test_avss_labels_map_to_classes(synth_root: Path) -> None:
    index = load_index(synth_root, "avss", "test")
    v2 = index[index["label"] == "v2"].iloc[0]
    cls = read_mask(v2["mask_path"], "avss")
    from avsbench_robust.data.classes import avss_class_index

    heard = {avss_class_index(o) for o in v2["objects"]}
    assert set(np.unique(cls)) - {0} == heard
    assert read_frame(v2["frame_path"]).shape[:2] == cls.shape


@pytest.mark.parametrize("mode", ["L", "P", "1", "RGB", "RGBA"])
def test_binary_mask_modes(tmp_path: Path, mode: str) -> None:
    arr = np.zeros((20, 30), np.uint8)
    arr[5:10, 3:17] = 255
    img = Image.fromarray(arr).convert(mode)
    path = tmp_path / f"m_{mode}.png"
    img.save(path)
    np.testing.assert_array_equal(read_mask(path, "ms3"), (arr > 0).astype(np.uint8))


def test_avss_off_palette_is_background(tmp_path: Path) -> None:
    cls = np.array([[0, 1, 70], [5, 5, 2]], np.uint8)
    rgb = AVSS_PALETTE[cls].copy()
    rgb[1, 0] = (1, 2, 3)  # not a palette colour
    Image.fromarray(rgb).save(tmp_path / "l.png")
    expected = cls.copy()
    expected[1, 0] = 0
    np.testing.assert_array_equal(read_mask(tmp_path / "l.png", "avss"), expected)


def test_csv_columns_by_name_and_position(synth_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(synth_root / "Single-source", root / "Single-source")
    csv = root / "Single-source" / "s4_meta_data.csv"
    base = load_index(root, "s4")
    df = pd.read_csv(csv)
    df[["split", "category", "start", "name"]].to_csv(csv, index=False)  # reordered, by name
    pd.testing.assert_frame_equal(load_index(root, "s4"), base)
    df.columns = ["a", "b", "c", "d"]  # unknown names: positional fallback
    df.to_csv(csv, index=False)
    pd.testing.assert_frame_equal(load_index(root, "s4"), base)


def test_wrong_columns(synth_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(synth_root / "Single-source", root / "Single-source")
    csv = root / "Single-source" / "s4_meta_data.csv"
    pd.read_csv(csv)[["name"]].rename(columns={"name": "x"}).to_csv(csv, index=False)
    with pytest.raises(InputFileError, match="s4_meta_data.csv.*no column for 'category'"):
        load_index(root, "s4")


def test_missing_frame_lists_file(synth_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(synth_root / "Multi-sources", root / "Multi-sources")
    victim = sorted((root / "Multi-sources" / "ms3_data" / "visual_frames").rglob("*.mp4_3.png"))[0]
    victim.unlink()
    with pytest.raises(ValidationError, match=f"missing frame .*{victim.name}"):
        load_index(root, "ms3")


def test_missing_csv_and_empty_root(synth_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="is not an AVSBench root"):
        load_index(tmp_path, "s4")
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        load_index(tmp_path / "nope", "s4")
    root = tmp_path / "root"
    shutil.copytree(synth_root / "Multi-sources", root / "Multi-sources")
    with pytest.raises(DatasetLayoutError, match="no S4 subset: expected .*s4_meta_data.csv"):
        load_index(root, "s4")


def test_bad_split_value(synth_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(synth_root / "Multi-sources", root / "Multi-sources")
    csv = root / "Multi-sources" / "ms3_meta_data.csv"
    csv.write_text(csv.read_text().replace(",test", ",testing", 1))
    with pytest.raises(InputFileError, match="unknown split value"):
        load_index(root, "ms3")


def test_cli_index_errors_are_one_line(tmp_path: Path) -> None:
    res = run_cli("index", "--subset", "s4", "--root", str(tmp_path))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "is not an AVSBench root" in res.stderr


def test_cli_index_default_root(synth_root: Path) -> None:
    res = run_cli("index", "--subset", "ms3", "--split", "test")
    assert res.returncode == 0, res.stderr
    assert "embedded synthetic AVSBench dataset" in res.stderr
    assert "ms3" in res.stdout and "test" in res.stdout


def test_headerless_csv_with_bom(synth_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(synth_root / "Multi-sources", root / "Multi-sources")
    csv = root / "Multi-sources" / "ms3_meta_data.csv"
    base = load_index(root, "ms3")
    lines = csv.read_text().splitlines()[1:]
    csv.write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    pd.testing.assert_frame_equal(load_index(root, "ms3"), base)


def test_clip_specs_keep_metadata_order(synth_root: Path) -> None:
    from avsbench_robust.predictions.loader import clip_specs

    index = load_index(synth_root, "avss", "test")
    order = list(dict.fromkeys(index["video"]))
    assert order != sorted(order)  # the synthetic names are not sorted, so the check has teeth
    assert [s.video for s in clip_specs(index)] == order
