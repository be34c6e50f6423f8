"""Run a build: probe inputs, plan the pairing, compute every clip's conditions in workers, write atomically.

Determinism: every output is a function of (seed, recipe, clip table, input bytes) alone — per-clip
random streams, a sorted pairing plan, byte-deterministic writers — so any worker count gives the
same tree. Resume: each finished clip leaves a journal record (fingerprint + sha256 of its files);
a rerun skips clips whose record matches the plan and whose files still hash right, and redoes the rest.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._version import __version__
from ..audio import clip_features, read_audio, write_wav_float32, write_wav_pcm16
from ..errors import AVSBRobustError, InputFileError, ValidationError
from ..io_utils import atomic_write_bytes, atomic_write_text, sha256_file
from ..types import Condition, Split, Subset
from ..workers import imap_ordered
from . import manifest as mf
from .clip import SECONDS_DECIMALS, condition_audio, conform
from .layout import (
    JOURNAL_DIR,
    MANIFEST_NAME,
    ClipOutputs,
    check_out_outside_root,
    clip_outputs,
    condition_root,
    default_out,
)
from .plan import Pairing, clip_majors, plan_offscreen
from .recipe import Recipe, load_recipe
from .taxonomy import Taxonomy, load_taxonomy

Echo = Callable[[str], None]
_BUILD_KEY_FIELDS = ("toolkit_version", "subset", "splits", "seed", "conditions", "pkl", "recipe_sha256", "taxonomy_sha256")


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


@dataclass(frozen=True)
class ClipTask:
    """Everything a worker needs for one clip (picklable; no open files, no shared state)."""

    subset: str
    split: str
    video: str
    audio_path: str
    seconds: float
    examples: int
    pad: str
    conditions: tuple[str, ...]
    wav: dict  # condition -> (sample_rate, subtype)
    outputs: dict  # condition -> ClipOutputs
    out: str
    seed: int
    source_audio_path: str | None  # offscreen source clip's WAV
    fused_snr_db: float
    fused_negative: str
    pkl: bool


@dataclass
class BuildResult:
    out: Path
    manifest_path: Path
    clips: int
    built: int
    reused: int
    skipped: list = field(default_factory=list)
    fallbacks: int = 0
    warnings: list = field(default_factory=list)
    seconds: float = 0.0
    timing: dict = field(default_factory=dict)  # summed worker seconds: read, features, write, total


def parse_splits(split: str | Split | Sequence[str | Split] | None) -> list[Split]:
    if split is None:
        return [Split.TEST]
    if isinstance(split, (str, Split)):
        if str(split).strip().lower() == "all":
            return list(Split)
        split = [s for s in str(split).split(",") if s.strip()]
    wanted = {Split.parse(s) for s in split}
    return [s for s in Split if s in wanted]


# ---------------------------------------------------------------- workers

def probe_source(path: str) -> dict:
    """Decode a source WAV fully (so corrupt data shows now, before planning) and describe it."""
    try:
        _samples, sr, info = read_audio(path)
    except InputFileError as exc:
        return {"ok": False, "problem": exc.problem}
    return {"ok": True, "sha256": sha256_file(path), "sample_rate": int(sr), "channels": int(info.channels),
            "seconds": round(info.frames / sr, SECONDS_DECIMALS), "subtype": str(info.subtype)}


def _write_wav(path: Path, samples: np.ndarray, sr: int, subtype: str) -> None:
    (write_wav_pcm16 if subtype == "PCM_16" else write_wav_float32)(path, samples, sr)


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _pkl_bytes(array: np.ndarray) -> bytes:
    """Features as a pickled torch tensor, the format AVSBench's loaders `torch.load` (written, never read here)."""
    import torch

    buf = io.BytesIO()
    torch.save(torch.from_numpy(np.ascontiguousarray(array)), buf)
    return buf.getvalue()


def process_clip(task: ClipTask) -> dict:
    """Compute and write every condition of one clip; returns its manifest record (plus `_timing`)."""
    t0 = time.perf_counter()
    subset = Subset(task.subset)
    samples, sr, info = read_audio(task.audio_path)
    own = conform(samples, sr, task.seconds, str(info.subtype))
    source = None
    if task.source_audio_path is not None:
        s_samples, s_sr, s_info = read_audio(task.source_audio_path)
        source = conform(s_samples, s_sr, task.seconds, str(s_info.subtype)).samples
    t_read = time.perf_counter() - t0
    t_feat = 0.0
    out = Path(task.out)
    outputs: dict = {}
    for cond_name in task.conditions:
        cond = Condition(cond_name)
        audio = condition_audio(cond, own=own.samples, source=source, seconds=task.seconds, seed=task.seed,
                                subset=subset, split=task.split, video=task.video, fused_snr_db=task.fused_snr_db,
                                fused_negative=Condition(task.fused_negative), noise_rate=task.wav[cond_name][0])
        paths: ClipOutputs = task.outputs[cond_name]
        wav_path = out / paths.wav
        sr_out, subtype = task.wav[cond_name]
        if audio.sample_rate != sr_out:
            raise ValueError(f"{cond_name} audio is at {audio.sample_rate} Hz, recipe says {sr_out}")
        _write_wav(wav_path, audio.samples, sr_out, subtype)
        # Features come from the file as written, so anyone can re-derive them from our WAVs.
        written, written_sr, _ = read_audio(wav_path)
        tf = time.perf_counter()
        feats = clip_features(written, written_sr, task.examples, task.pad)  # type: ignore[arg-type]
        t_feat += time.perf_counter() - tf
        npy = _npy_bytes(feats)
        atomic_write_bytes(out / paths.features, npy)
        rec = {"wav": paths.wav, "wav_sha256": sha256_file(wav_path), "features": paths.features,
               "features_sha256": hashlib.sha256(npy).hexdigest(), "sample_rate": int(sr_out), "subtype": subtype,
               "seconds": round(written.shape[0] / written_sr, SECONDS_DECIMALS),
               "features_shape": [int(d) for d in feats.shape], **audio.extra}
        if task.pkl:
            pkl = _pkl_bytes(feats)
            atomic_write_bytes(out / paths.pkl, pkl)
            rec.update(pkl=paths.pkl, pkl_sha256=hashlib.sha256(pkl).hexdigest())
        outputs[cond_name] = rec
    total = time.perf_counter() - t0
    return {"split": task.split, "video": task.video, "adjustments": own.adjustments, "outputs": outputs,
            "_timing": {"read": t_read, "features": t_feat, "write_and_conditions": total - t_read - t_feat,
                        "total": total}}


def _process_guarded(task: ClipTask) -> dict:
    """`process_clip`, with user-fixable errors returned as data (our exceptions do not survive pickling)."""
    try:
        return process_clip(task)
    except InputFileError as exc:
        return {"_error": [str(exc.path), exc.problem]}
    except AVSBRobustError as exc:
        return {"_error": [None, str(exc)]}


@contextlib.contextmanager
def _mapper(workers: int) -> Iterator[Callable]:
    """An ordered map over a spawn pool (one BLAS thread per worker; a dead worker is an error, not a
    hang), or in-process for one worker."""
    if workers <= 1:
        yield lambda fn, items: map(fn, items)
        return
    env = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    yield lambda fn, items: imap_ordered(fn, items, workers, context="spawn", env=env, what="clip")


# ---------------------------------------------------------------- resume state

def _fingerprint(doc: dict) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _journal_name(split: str, video: str) -> str:
    return hashlib.sha256(f"{split}\x1f{video}".encode()).hexdigest()[:24] + ".json"


def _record_intact(out: Path, record: dict) -> bool:
    for rel, digest in mf.listed_files({"clips": [record]}):
        path = out / rel
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return True


#: Temp names of `io_utils.atomic_path` (".<name>.<random>.tmp<suffix>"): what a killed writer leaves behind.
_STALE_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp(\.[A-Za-z0-9]+)?$")


def _remove_stale_temps(out: Path, subset: Subset) -> int:
    """Delete temp files a killed build left in our condition trees (never outside them)."""
    removed = 0
    for cond in Condition:
        folder = out / condition_root(subset, cond)
        if not folder.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                if _STALE_TEMP.match(name):
                    (Path(dirpath) / name).unlink()
                    removed += 1
    return removed


def _previous_records(out: Path, key: dict) -> dict[tuple[str, str], dict]:
    """Finished clips of an earlier run into the same OUT (manifest and journal), after checking it was the same build."""
    records: dict[tuple[str, str], dict] = {}
    sources = []
    if (out / MANIFEST_NAME).is_file():
        doc = mf.read_manifest(out)
        sources.append((out / MANIFEST_NAME, {k: doc[k] for k in _BUILD_KEY_FIELDS}, doc["clips"]))
    jdir = out / JOURNAL_DIR
    if (jdir / "build.json").is_file():
        try:
            jkey = json.loads((jdir / "build.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            jkey = None
        clips = []
        for f in sorted((jdir / "clips").glob("*.json")) if (jdir / "clips").is_dir() else []:
            try:
                clips.append(json.loads(f.read_text(encoding="utf-8")))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a torn record is simply redone
        if jkey is not None:
            sources.append((jdir / "build.json", jkey, clips))
    for where, old, clips in sources:
        diff = [f"{k}: {old.get(k)!r} here, {key[k]!r} now" for k in _BUILD_KEY_FIELDS if old.get(k) != key[k]]
        if diff:
            raise AVSBRobustError(
                f"{where}: {out} already holds a different build ({'; '.join(diff)}); "
                "choose a fresh --out or delete the old one"
            )
        for c in clips:
            if isinstance(c, dict) and "split" in c and "video" in c:
                records[(c["split"], c["video"])] = c
    return records


# ---------------------------------------------------------------- orchestration

def build(
    subset: Subset | str,
    root: str | Path | None = None,
    out: str | Path | None = None,
    split: str | Split | Sequence[str | Split] | None = "test",
    conditions: Sequence[str | Condition] | None = None,
    seed: int = 42,
    workers: int = 1,
    pkl: bool = False,
    fused_snr_db: float | None = None,
    fused_negative: str | Condition | None = None,
    avss_metadata: str | Path | None = None,
    skip_bad: bool = False,
    progress: bool | None = True,
    echo: Echo = _stderr,
    taxonomy: Taxonomy | None = None,
    recipe: Recipe | None = None,
) -> BuildResult:
    """Build the AVSBench-Robust conditions of `subset` from an AVSBench root into `out`; see docs/build.md."""
    from tqdm import tqdm

    from ..data.avsbench import AVSS_CSV, clip_table, load_index
    from ..data.default import resolve_root

    start = time.perf_counter()
    subset = Subset.parse(subset)
    splits = parse_splits(split)
    if workers < 1:
        raise AVSBRobustError(f"--workers must be at least 1, got {workers}")
    if fused_snr_db is not None and not math.isfinite(fused_snr_db):
        raise ValidationError("--fused-snr-db", [f"must be a finite number of dB, got {fused_snr_db}"])
    if pkl and importlib.util.find_spec("torch") is None:
        raise AVSBRobustError("--pkl writes torch tensors and needs PyTorch: pip install 'avsbench-robust[torch]'")
    root_path = resolve_root(root)
    out_path = Path(out).expanduser().resolve() if out is not None else default_out(subset)
    check_out_outside_root(out_path, root_path)
    if out_path.exists() and not out_path.is_dir():
        raise InputFileError(out_path, "exists and is not a folder; --out names the folder to build into")
    taxonomy = taxonomy or load_taxonomy()
    recipe = recipe or load_recipe(subset, conditions=list(conditions) if conditions else None,
                                   fused_snr_db=fused_snr_db, fused_negative=fused_negative)
    conds = recipe.conditions
    warnings: list[str] = []

    index = load_index(root_path, subset, splits, avss_metadata=avss_metadata, check_files=False)
    if index.empty:
        raise AVSBRobustError(f"{root_path}: no {subset.value.upper()} clips in split(s) {', '.join(s.value for s in splits)}")
    clips = clip_table(index)

    # Objects for pairing. MS3 takes them from AVSS v1m rows; without those every pair is a fallback.
    objects_source = "category" if subset is Subset.S4 else "avss-metadata"
    if subset is Subset.MS3:
        has_meta = avss_metadata is not None or (root_path / AVSS_CSV).is_file()
        if not has_meta:
            objects_source = "none"
            warnings.append(f"no AVSS metadata ({root_path / AVSS_CSV} or --avss-metadata): MS3 objects are unknown, "
                            "so every offscreen pair is a fallback (recorded in the manifest)")
        else:
            unknown = int(sum(1 for o in clips["objects"] if not o))
            if unknown:
                warnings.append(f"{unknown} MS3 clip(s) have no AVSS v1m row: their offscreen pairs are fallbacks")
    majors = clip_majors(clips, subset, taxonomy)  # unknown categories fail here, naming the clip

    # Probe every source before planning, so a bad file never becomes someone's offscreen source.
    paths = clips["audio_path"].astype(str).tolist()
    with _mapper(workers) as imap:
        probes = dict(zip(paths, imap(probe_source, paths)))
    skipped = []
    for s, v, p in zip(clips["split"], clips["video"], paths):
        if not probes[p]["ok"]:
            skipped.append({"split": s, "video": v, "file": p, "problem": probes[p]["problem"]})
    if skipped and not skip_bad:
        if len(skipped) == 1:
            raise InputFileError(skipped[0]["file"], skipped[0]["problem"] + " (or pass --skip-bad to leave the clip out)")
        raise ValidationError(f"{len(skipped)} unreadable audio files under {root_path} (or pass --skip-bad)",
                              [f"{s['file']}: {s['problem']}" for s in skipped])
    for s in skipped:
        s["file"] = _rel(Path(s["file"]), root_path)
        warnings.append(f"skipped {s['split']}/{s['video']}: {s['file']}: {s['problem']}")
    good = np.array([probes[p]["ok"] for p in paths], dtype=bool)
    clips = clips[good].reset_index(drop=True)
    majors = [m for m, ok in zip(majors, good) if ok]
    if clips.empty:
        raise AVSBRobustError("every clip was skipped as unreadable: nothing to build")

    needs_pairs = Condition.OFFSCREEN in conds or (Condition.FUSED in conds and recipe.fused_negative is Condition.OFFSCREEN)
    pairs: list[Pairing | None] = (
        list(plan_offscreen(clips, subset, taxonomy, seed, recipe.same_duration)) if needs_pairs else [None] * len(clips)
    )
    key = {"toolkit_version": __version__, "subset": subset.value, "splits": [s.value for s in splits], "seed": int(seed),
           "conditions": [c.value for c in conds], "pkl": bool(pkl), "recipe_sha256": recipe.sha256,
           "taxonomy_sha256": taxonomy.sha256}
    previous = _previous_records(out_path, key)
    _remove_stale_temps(out_path, subset)

    video_path = {(s, v): p for s, v, p in zip(clips["split"], clips["video"], clips["audio_path"].astype(str))}
    base_records, tasks, todo = [], [], []
    for i, row in enumerate(clips.itertuples(index=False)):
        spec = recipe.clip_spec(row.label)
        pair = pairs[i]
        src_path = video_path[(row.split, pair.source_video)] if pair else None
        probe = probes[str(row.audio_path)]
        fp = _fingerprint({**key, "split": row.split, "video": row.video, "category": row.category, "label": row.label,
                           "source_sha256": probe["sha256"],
                           "offscreen": [pair.source_video, probes[src_path]["sha256"], pair.fallback] if pair else None})
        outputs = {c.value: clip_outputs(subset, c, row.split, row.video, row.category, row.label) for c in conds}
        base = {"split": row.split, "video": row.video, "category": row.category, "label": row.label,
                "objects": list(row.objects), "majors": sorted(majors[i], key=taxonomy.majors.index),
                "seconds": float(spec.seconds),
                "source": {"path": _rel(Path(row.audio_path), root_path),
                           **{k: probe[k] for k in ("sha256", "sample_rate", "channels", "seconds", "subtype")}},
                "fingerprint": fp}
        base_records.append(base)
        prev = previous.get((row.split, row.video))
        if prev is not None and prev.get("fingerprint") == fp and _record_intact(out_path, prev):
            continue
        todo.append(i)
        tasks.append(ClipTask(
            subset=subset.value, split=row.split, video=row.video, audio_path=str(row.audio_path),
            seconds=float(spec.seconds), examples=spec.examples, pad=spec.pad, conditions=tuple(c.value for c in conds),
            wav={c.value: (recipe.wav[c].sample_rate, recipe.wav[c].subtype) for c in conds}, outputs=outputs,
            out=str(out_path), seed=int(seed), source_audio_path=src_path, fused_snr_db=recipe.fused_snr_db,
            fused_negative=recipe.fused_negative.value, pkl=bool(pkl)))

    position = {(b["split"], b["video"]): i for i, b in enumerate(base_records)}
    jdir = out_path / JOURNAL_DIR
    (jdir / "clips").mkdir(parents=True, exist_ok=True)
    atomic_write_text(jdir / "build.json", json.dumps(key, sort_keys=True) + "\n")
    finished: dict[tuple[str, str], dict] = {}
    timing = {"read": 0.0, "features": 0.0, "write_and_conditions": 0.0, "total": 0.0}
    for w in warnings:
        echo(f"warning: {w}")
    bar = tqdm(total=len(clips), initial=len(clips) - len(tasks), desc=f"build {subset.value}", unit="clip",
               disable=None if progress is None else not progress, file=sys.stderr)
    try:
        with _mapper(workers) as imap:
            for rec in imap(_process_guarded, tasks):
                if "_error" in rec:
                    path, problem = rec["_error"]
                    raise InputFileError(path, problem) if path else AVSBRobustError(problem)
                for k, v in rec.pop("_timing").items():
                    timing[k] += v
                i_key = (rec["split"], rec["video"])
                i = position[i_key]
                full = _with_pairing({**base_records[i], **rec}, pairs[i])
                atomic_write_text(jdir / "clips" / _journal_name(*i_key), json.dumps(full, sort_keys=True) + "\n")
                finished[i_key] = full
                bar.update(1)
    finally:
        bar.close()

    records = []
    for base, pair in zip(base_records, pairs):
        k = (base["split"], base["video"])
        rec = finished.get(k) or previous[k]
        records.append(_with_pairing({**rec, **base}, pair))
    manifest = {
        "format": mf.FORMAT, "format_version": mf.FORMAT_VERSION, **key, "recipe": dict(recipe.doc),
        "objects_source": objects_source, "clips": records, "skipped": skipped,
        "summary": {"clips": len(records), "files": sum(1 for _ in mf.listed_files({"clips": records})),
                    "fallbacks": sum(1 for p in pairs if p is not None and p.fallback), "skipped": len(skipped),
                    "adjusted": sum(1 for r in records if r["adjustments"])},
    }
    manifest_path = mf.write_manifest(out_path, manifest)
    shutil.rmtree(jdir, ignore_errors=True)
    return BuildResult(out=out_path, manifest_path=manifest_path, clips=len(records), built=len(tasks),
                       reused=len(records) - len(tasks), skipped=skipped,
                       fallbacks=manifest["summary"]["fallbacks"], warnings=warnings,
                       seconds=time.perf_counter() - start, timing=timing)


def _with_pairing(record: dict, pair: Pairing | None) -> dict:
    """Add the offscreen source (and fallback facts) to the offscreen output of a record."""
    if pair is None or "offscreen" not in record["outputs"]:
        return record
    off = dict(record["outputs"]["offscreen"])
    off.update(source_video=pair.source_video, fallback=bool(pair.fallback), candidates=int(pair.candidates))
    if pair.fallback:
        off["fallback_reason"] = pair.reason
    return {**record, "outputs": {**record["outputs"], "offscreen": off}}


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(os.path.realpath(path)).relative_to(Path(os.path.realpath(root))).as_posix()
    except ValueError:
        return path.name
