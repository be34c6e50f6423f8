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
import pickle
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._version import __version__
from ..audio import clip_features, read_audio, scan_audio, seeded_rng, write_wav_float32, write_wav_pcm16
from ..audio.authors import authors_features, require_librosa
from ..audio.vggish import EXAMPLE_FRAMES, EXAMPLE_SAMPLES, HOP_SAMPLES, SAMPLE_RATE
from ..audio.wavio import PCM16_SCALE
from ..errors import TORCH_HINT, AVSBRobustError, InputFileError, MissingDependencyError, ValidationError
from ..io_utils import atomic_write_bytes, atomic_write_text, sha256_file
from ..provenance import LEAKY_LABEL
from ..types import Condition, Split, Subset
from ..workers import imap_ordered
from . import manifest as mf
from .clip import SECONDS_DECIMALS, Conformed, condition_audio, conform
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
_BUILD_KEY_FIELDS = ("toolkit_version", "subset", "splits", "seed", "conditions", "pkl", "recipe_sha256", "taxonomy_sha256",
                     "negative_features", "unseen_pool")
NEGATIVE_FEATURES = ("vggish", "authors")
PIPELINE_LABELS = {"vggish": "avsbench-robust (one VGGish front end for every condition)", "authors": LEAKY_LABEL}
#: A source whose first clip-length of samples peaks at or below one PCM16 step (-90.3 dBFS) is digital
#: silence: never an offscreen partner (its "offscreen sound" would be the silence condition again).
SILENT_PEAK = 1.0 / PCM16_SCALE
#: Clips per worker below which a process pool costs more than it saves. Measured (benchmarks/bench_build.py,
#: S4, 2 shared cores, load 7-8): 16 clips 3.8 s in-process vs 3.9 s with a 2-process pool, 20 clips 10.4 vs
#: 13.8 s, 32 clips 5.6 vs 4.2 s, 40 clips 12.9 vs 6.6 s.
MIN_CLIPS_PER_WORKER = 16


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
    wav: dict  # condition -> (sample_rate or "source", subtype)
    outputs: dict  # condition -> ClipOutputs
    out: str
    seed: int
    source_audio_path: str | None  # offscreen source clip's WAV
    fused_snr_db: float
    fused_negative: str
    pkl: bool
    keep_bytes: tuple[str, ...] = ()  # of this task's files, those whose bytes may be copied (intact PCM16 WAVs)
    unseen_path: str | None = None  # the pool recording this clip's unseen condition plays
    negative_features: str = "vggish"
    noise_rate: int = 44100  # the noise condition's rate: fused mixes in that same noise, resampled


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
    workers_used: int = 1  # processes that did the work (1: in-process, no pool was worth starting)
    excluded_partners: list = field(default_factory=list)


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

def probe_source(item: str | tuple[str, float]) -> dict:
    """Decode a source fully, block by block (corrupt data shows now, before planning), and describe it.

    `item` is a path or (path, nominal seconds): the peak is then also taken over the part a build
    uses, to tell digitally silent partners. Reports the container's real format and, for a WAV
    whose header promises more frames than the file holds, the promised duration.
    """
    path, seconds = (item, None) if isinstance(item, str) else item
    try:
        scan = scan_audio(path)
        head_peak = scan.peak
        if seconds is not None and scan.info.frames > round(seconds * scan.info.sample_rate):
            head, _, _ = read_audio(path, max_frames=int(round(seconds * scan.info.sample_rate)))
            head_peak = float(np.abs(head).max(initial=0.0))
    except InputFileError as exc:
        return {"ok": False, "problem": exc.problem}
    info = scan.info
    rec = {"ok": True, "sha256": sha256_file(path), "sample_rate": int(info.sample_rate), "channels": int(info.channels),
           "seconds": round(info.frames / info.sample_rate, SECONDS_DECIMALS), "subtype": str(info.subtype),
           "format": str(info.format), "peak": head_peak, "frames": int(info.frames)}
    if scan.truncated:
        rec["header_seconds"] = round(scan.header_frames / info.sample_rate, SECONDS_DECIMALS)
    return rec


def _write_wav(path: Path, samples: np.ndarray, sr: int, subtype: str) -> None:
    (write_wav_pcm16 if subtype == "PCM_16" else write_wav_float32)(path, samples, sr)


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


#: Fixed pickle protocol, so the .pkl bytes do not depend on the Python version that wrote them.
PKL_PROTOCOL = 4


def pkl_bytes(array: np.ndarray, requires_grad: bool = True) -> bytes:
    """Features as AVSBench stores them: `pickle.dump` of a float32 torch tensor, read back with `pickle.load`.

    AVSBench's VGGish tensors come out of autograd (`requires_grad=True`, hence the loaders' `.detach()`);
    the authors' negatives do not. We write, never read, these files.
    """
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).clone()
    tensor.requires_grad_(requires_grad)
    buf = io.BytesIO()
    _StablePickler(buf, protocol=PKL_PROTOCOL).dump(tensor)
    return buf.getvalue()


class _StablePickler(pickle.Pickler):
    """Plain pickle, except that a storage's inner key is a constant instead of its memory address.

    torch pickles a storage as a legacy `torch.save` blob keyed by `str(storage._cdata)`, an address,
    so two runs would write different bytes for the same tensor. The key only pairs the blob's two
    halves; any constant loads the same (same `pickle.load`, same tensor).
    """

    def reducer_override(self, obj):  # noqa: ANN001 - pickle's hook
        import torch

        if isinstance(obj, torch.storage.TypedStorage):
            fn, (blob,) = obj.__reduce__()
            tag = lambda key: b"X" + len(key).to_bytes(4, "little") + key  # protocol-2 BINUNICODE  # noqa: E731
            return fn, (blob.replace(tag(str(obj._cdata).encode()), tag(b"0")),)
        return NotImplemented


def _load(path: str, seconds: float, pad_to_duration: bool = False) -> Conformed:
    samples, sr, info = read_audio(path, max_seconds=seconds)  # trim before anything else: bounded memory
    c = conform(samples, sr, seconds, str(info.subtype), pad_to_duration=pad_to_duration)
    if "trimmed" in c.adjustments:  # from the whole file's duration, not the part read
        c.adjustments["trimmed"][0] = round(info.frames / sr, SECONDS_DECIMALS)
    return c


def process_clip(task: ClipTask) -> dict:
    """Compute and write every condition of one clip; returns its manifest record (plus `_timing`).

    Positive, offscreen and unseen WAVs hold PCM16 samples at their source rate (the source bytes
    themselves when nothing had to change), and their VGGish features are computed from exactly those
    samples the way AVSBench's reader does (int16 / 32768, mean of channels, kaiser_best to 16 kHz).
    Silence, noise and fused WAVs are made at the recipe's rate; their features come from the samples written.
    """
    t0 = time.perf_counter()
    subset = Subset(task.subset)
    own = _load(task.audio_path, task.seconds)
    source = _load(task.source_audio_path, task.seconds) if task.source_audio_path is not None else None
    unseen = _load(task.unseen_path, task.seconds, pad_to_duration=True) if task.unseen_path is not None else None
    origin = {Condition.POSITIVE: (own, task.audio_path), Condition.OFFSCREEN: (source, task.source_audio_path),
              Condition.UNSEEN: (unseen, task.unseen_path)}
    t_read = time.perf_counter() - t0
    t_feat = 0.0
    out = Path(task.out)
    outputs: dict = {}
    for cond_name in task.conditions:
        cond = Condition(cond_name)
        audio = condition_audio(cond, own=own, source=source, unseen=unseen, seconds=task.seconds, seed=task.seed,
                                subset=subset, split=task.split, video=task.video, fused_snr_db=task.fused_snr_db,
                                fused_negative=Condition(task.fused_negative),
                                noise_rate=task.noise_rate)
        paths: ClipOutputs = task.outputs[cond_name]
        wav_path = out / paths.wav
        sr_spec, subtype = task.wav[cond_name]
        if sr_spec != "source" and audio.sample_rate != sr_spec:
            raise ValueError(f"{cond_name} audio is at {audio.sample_rate} Hz, recipe says {sr_spec}")
        conformed, from_path = origin.get(cond, (None, None))
        kept = conformed is not None and conformed.unchanged and from_path in task.keep_bytes
        if kept:
            atomic_write_bytes(wav_path, Path(from_path).read_bytes())
        else:
            _write_wav(wav_path, audio.samples, audio.sample_rate, subtype)
        tf = time.perf_counter()
        authors = task.negative_features == "authors" and cond is not Condition.POSITIVE
        if authors:
            feats = authors_features(wav_path, task.seconds, task.examples)
            front_end = {"name": "authors", "label": LEAKY_LABEL}
        else:
            # The samples written are exactly what a reader of the WAV gets (PCM16 grid or float32).
            feats = clip_features(audio.samples, audio.sample_rate, task.examples, task.pad)  # type: ignore[arg-type]
            front_end = {"name": "vggish", "sample_rate_in": int(audio.sample_rate),
                         "channels_averaged": int(audio.samples.shape[1]) if audio.samples.ndim == 2 else 1}
        t_feat += time.perf_counter() - tf
        npy = _npy_bytes(feats)
        atomic_write_bytes(out / paths.features, npy)
        rec = {"wav": paths.wav, "wav_sha256": sha256_file(wav_path), "features": paths.features,
               "features_sha256": hashlib.sha256(npy).hexdigest(), "sample_rate": int(audio.sample_rate),
               "subtype": subtype, "seconds": round(audio.samples.shape[0] / audio.sample_rate, SECONDS_DECIMALS),
               "features_shape": [int(d) for d in feats.shape], "front_end": front_end, **audio.extra}
        if conformed is not None:
            rec["source_bytes_kept"] = bool(kept)
        if cond is Condition.UNSEEN and unseen is not None:
            rec["adjustments"] = unseen.adjustments
        if task.pkl:
            pkl = pkl_bytes(feats, requires_grad=not authors)
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
    unseen_pool: str | Path | None = None,
    negative_features: str = "vggish",
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
        raise MissingDependencyError(f"--pkl writes torch tensors and needs PyTorch, which is not installed: {TORCH_HINT}")
    if negative_features not in NEGATIVE_FEATURES:
        raise AVSBRobustError(f"--negative-features must be one of {', '.join(NEGATIVE_FEATURES)}, got {negative_features!r}")
    if negative_features == "authors":
        require_librosa()
    root_path = resolve_root(root)
    out_path = Path(out).expanduser().resolve() if out is not None else default_out(subset)
    check_out_outside_root(out_path, root_path)
    if out_path.exists() and not out_path.is_dir():
        raise InputFileError(out_path, "exists and is not a folder; --out names the folder to build into")
    taxonomy = taxonomy or load_taxonomy()
    if conditions is None and unseen_pool is not None and recipe is None:
        conditions = [*load_recipe(subset).conditions, Condition.UNSEEN]
    recipe = recipe or load_recipe(subset, conditions=list(conditions) if conditions else None,
                                   fused_snr_db=fused_snr_db, fused_negative=fused_negative)
    conds = recipe.conditions
    if Condition.UNSEEN in conds and unseen_pool is None:
        raise AVSBRobustError("the unseen condition plays recordings from a pool: give --unseen-pool DIR")
    if unseen_pool is not None and Condition.UNSEEN not in conds:
        raise AVSBRobustError("--unseen-pool given but the unseen condition is not among --conditions")
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

    paths = clips["audio_path"].astype(str).tolist()
    nominal = [float(recipe.clip_spec(label).seconds) for label in clips["label"]]
    pool_files = _pool_files(Path(unseen_pool)) if unseen_pool is not None else []
    # One pool for probing and building, and only when there is enough work to pay for starting it.
    use = _workers_worth_it(workers, len(paths))
    with _mapper(use) as imap:
        # Probe every source before planning, so a bad file never becomes someone's offscreen source.
        probed = _ordered(imap, probe_source, list(zip(paths, nominal)) + [(str(f), None) for f in pool_files])
        probes = dict(zip(paths, probed[: len(paths)]))
        pool = _check_pool(pool_files, probed[len(paths):], warnings) if pool_files else []
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
        for p in clips["audio_path"].astype(str):
            warnings.extend(_format_warnings(_rel(Path(p), root_path), probes[p]))

        needs_pairs = Condition.OFFSCREEN in conds or (Condition.FUSED in conds and recipe.fused_negative is Condition.OFFSCREEN)
        excluded: list[dict] = []
        eligible = None
        if needs_pairs:
            eligible, excluded = partner_eligibility(clips, probes, recipe)
            for e in excluded:
                warnings.append(f"{e['split']}/{e['video']} is never an offscreen partner: {e['reason']}")
        pairs: list[Pairing | None] = (
            list(plan_offscreen(clips, subset, taxonomy, seed, recipe.same_duration, eligible=eligible))
            if needs_pairs else [None] * len(clips)
        )
        key = {"toolkit_version": __version__, "subset": subset.value, "splits": [s.value for s in splits],
               "seed": int(seed), "conditions": [c.value for c in conds], "pkl": bool(pkl),
               "recipe_sha256": recipe.sha256, "taxonomy_sha256": taxonomy.sha256,
               "negative_features": negative_features,
               "unseen_pool": [{"name": e["name"], "sha256": e["sha256"]} for e in pool if e["used"]] or None}
        previous = _previous_records(out_path, key)
        _remove_stale_temps(out_path, subset)

        usable_pool = [e for e in pool if e["used"]]
        video_path = {(s, v): p for s, v, p in zip(clips["split"], clips["video"], clips["audio_path"].astype(str))}
        keepable = {p for p, pr in [*probes.items(), *((e["path"], e) for e in pool)] if _keepable(pr)}
        base_records, tasks = [], []
        for i, row in enumerate(clips.itertuples(index=False)):
            spec = recipe.clip_spec(row.label)
            pair = pairs[i]
            src_path = video_path[(row.split, pair.source_video)] if pair else None
            probe = probes[str(row.audio_path)]
            unseen = (usable_pool[int(seeded_rng(seed, subset, row.split, row.video, Condition.UNSEEN)
                                      .integers(len(usable_pool)))] if usable_pool else None)
            fp = _fingerprint({**key, "split": row.split, "video": row.video, "category": row.category,
                               "label": row.label, "source_sha256": probe["sha256"],
                               "offscreen": [pair.source_video, probes[src_path]["sha256"], pair.fallback] if pair else None,
                               "unseen": unseen["sha256"] if unseen else None})
            outputs = {c.value: clip_outputs(subset, c, row.split, row.video, row.category, row.label) for c in conds}
            source = {"path": _rel(Path(row.audio_path), root_path),
                      **{k: probe[k] for k in ("sha256", "sample_rate", "channels", "seconds", "subtype", "format")}}
            if "header_seconds" in probe:
                source["header_seconds"] = probe["header_seconds"]
            base = {"split": row.split, "video": row.video, "category": row.category, "label": row.label,
                    "objects": list(row.objects), "majors": sorted(majors[i], key=taxonomy.majors.index),
                    "seconds": float(spec.seconds), "source": source, "fingerprint": fp}
            base_records.append((base, unseen))
            prev = previous.get((row.split, row.video))
            if prev is not None and prev.get("fingerprint") == fp and _record_intact(out_path, prev):
                continue
            tasks.append(ClipTask(
                subset=subset.value, split=row.split, video=row.video, audio_path=str(row.audio_path),
                seconds=float(spec.seconds), examples=spec.examples, pad=spec.pad, conditions=tuple(c.value for c in conds),
                wav={c.value: (recipe.wav[c].sample_rate, recipe.wav[c].subtype) for c in conds}, outputs=outputs,
                out=str(out_path), seed=int(seed), source_audio_path=src_path, fused_snr_db=recipe.fused_snr_db,
                fused_negative=recipe.fused_negative.value, pkl=bool(pkl),
                keep_bytes=tuple(p for p in (str(row.audio_path), src_path, unseen["path"] if unseen else None)
                                 if p in keepable),
                unseen_path=unseen["path"] if unseen else None, negative_features=negative_features,
                noise_rate=int(recipe.wav[Condition.NOISE].sample_rate) if Condition.NOISE in recipe.wav else 44100))

        position = {(b["split"], b["video"]): i for i, (b, _u) in enumerate(base_records)}
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
            for rec in imap(_process_guarded, tasks):
                if "_error" in rec:
                    path, problem = rec["_error"]
                    raise InputFileError(path, problem) if path else AVSBRobustError(problem)
                for k, v in rec.pop("_timing").items():
                    timing[k] += v
                i_key = (rec["split"], rec["video"])
                i = position[i_key]
                full = _with_extras({**base_records[i][0], **rec}, pairs[i], base_records[i][1])
                atomic_write_text(jdir / "clips" / _journal_name(*i_key), json.dumps(full, sort_keys=True) + "\n")
                finished[i_key] = full
                bar.update(1)
        finally:
            bar.close()

    records = []
    for (base, unseen), pair in zip(base_records, pairs):
        k = (base["split"], base["video"])
        rec = finished.get(k) or previous[k]
        records.append(_with_extras({**rec, **base}, pair, unseen))
    manifest = {
        "format": mf.FORMAT, "format_version": mf.FORMAT_VERSION, **key, "recipe": dict(recipe.doc),
        "pipeline": PIPELINE_LABELS[negative_features],
        "objects_source": objects_source, "clips": records, "skipped": skipped,
        "offscreen_exclusions": excluded,
        "unseen_pool_files": [{k: e[k] for k in e if k not in ("path", "used")} for e in pool],
        "summary": {"clips": len(records), "files": sum(1 for _ in mf.listed_files({"clips": records})),
                    "fallbacks": sum(1 for p in pairs if p is not None and p.fallback), "skipped": len(skipped),
                    "adjusted": sum(1 for r in records if set(r["adjustments"]) - {"mixed_down", "resampled"})},
    }
    manifest_path = mf.write_manifest(out_path, manifest)
    shutil.rmtree(jdir, ignore_errors=True)
    return BuildResult(out=out_path, manifest_path=manifest_path, clips=len(records), built=len(tasks),
                       reused=len(records) - len(tasks), skipped=skipped,
                       fallbacks=manifest["summary"]["fallbacks"], warnings=warnings,
                       seconds=time.perf_counter() - start, timing=timing, workers_used=use,
                       excluded_partners=excluded)


def _workers_worth_it(workers: int, clips: int) -> int:
    """Worker processes to start: none below MIN_CLIPS_PER_WORKER clips each (a spawned worker costs 1-3 s to start)."""
    return max(1, min(int(workers), clips // MIN_CLIPS_PER_WORKER))


AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".aif", ".aiff")


def _pool_files(folder: Path) -> list[Path]:
    """The unseen pool: audio files directly in `folder`, sorted by name (the order the draw indexes)."""
    if not folder.is_dir():
        raise InputFileError(folder, "unseen pool folder not found")
    files = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                    and p.suffix.lower() in AUDIO_SUFFIXES), key=lambda p: p.name)
    if not files:
        raise InputFileError(folder, f"unseen pool holds no audio file ({', '.join(AUDIO_SUFFIXES)})")
    return files


def _check_pool(files: list[Path], probed: list[dict], warnings: list[str]) -> list[dict]:
    """Pool entries for the manifest; unreadable files stop the build, silent ones are left out with a warning."""
    entries = []
    for f, pr in zip(files, probed):
        if not pr["ok"]:
            raise InputFileError(f, pr["problem"])
        entry = {"name": f.name, "path": str(f), "used": pr["peak"] > SILENT_PEAK,
                 **{k: pr[k] for k in ("sha256", "sample_rate", "channels", "seconds", "subtype", "format")
                    + (("header_seconds",) if "header_seconds" in pr else ())}}
        if not entry["used"]:
            entry["excluded"] = "digitally silent (peak <= 1/32768, -90.3 dBFS)"
            warnings.append(f"unseen pool: {f.name} left out: {entry['excluded']}")
        warnings.extend(_format_warnings(f"unseen pool {f.name}", pr))
        entries.append(entry)
    if not any(e["used"] for e in entries):
        raise AVSBRobustError(f"{files[0].parent}: every recording of the unseen pool is silent")
    return entries


def _keepable(probe: dict) -> bool:
    """An intact PCM16 WAV: its bytes can stand as our WAV when nothing in it has to change."""
    return bool(probe.get("ok", True)) and probe["format"] == "WAV" and probe["subtype"] == "PCM_16" \
        and "header_seconds" not in probe


def _format_warnings(name: str, probe: dict) -> list[str]:
    out = []
    if "header_seconds" in probe:
        out.append(f"{name}: truncated WAV: the header declares {probe['header_seconds']:g} s but the file holds "
                   f"{probe['seconds']:g} s (built from what is there; recorded as header_seconds)")
    if name.lower().endswith(".wav") and probe["format"] != "WAV":
        out.append(f"{name}: named .wav but holds {probe['format']} audio ({probe['subtype']}); decoded as such "
                   "(recorded as the source format)")
    return out


def partner_eligibility(clips, probes: dict, recipe: Recipe) -> tuple[np.ndarray, list[dict]]:
    """Which clips may lend their audio as offscreen sound, and why the others may not.

    Excluded: digitally silent sources (peak of the used part <= one PCM16 step, -90.3 dBFS), and
    sources shorter than the clips they would serve: fewer whole VGGish examples than the clip's
    features hold (5 s clips: 4.815 s), which would make one example repeat as the offscreen sound.
    """
    eligible = np.ones(len(clips), dtype=bool)
    excluded = []
    for i, row in enumerate(clips.itertuples(index=False)):
        pr = probes[str(row.audio_path)]
        spec = recipe.clip_spec(row.label)
        need = EXAMPLE_SAMPLES + (spec.examples - 1) * EXAMPLE_FRAMES * HOP_SAMPLES  # 16 kHz samples
        have16 = pr["frames"] * SAMPLE_RATE // pr["sample_rate"]
        reason = ""
        if pr["peak"] <= SILENT_PEAK:
            reason = "digitally silent (peak <= 1/32768, -90.3 dBFS)"
        elif have16 < need:
            reason = (f"shorter than the clips it would serve ({pr['seconds']:g} s < {need / SAMPLE_RATE:g} s "
                      f"for {spec.examples} whole examples)")
        if reason:
            eligible[i] = False
            excluded.append({"split": row.split, "video": row.video, "reason": reason})
    return eligible, excluded


def _ordered(imap: Callable, fn: Callable, items: list) -> list:
    # results carry their index, so the order the map returns them in does not matter
    return [r for _, r in sorted(imap(_Indexed(fn), list(enumerate(items))), key=lambda t: t[0])]


@dataclass(frozen=True)
class _Indexed:
    fn: Callable

    def __call__(self, item: tuple[int, object]) -> tuple[int, object]:
        return item[0], self.fn(item[1])


def _with_extras(record: dict, pair: Pairing | None, unseen: dict | None) -> dict:
    """Add the offscreen source (and fallback facts) and the unseen pool file to their outputs of a record."""
    outputs = dict(record["outputs"])
    if pair is not None and "offscreen" in outputs:
        off = dict(outputs["offscreen"])
        off.update(source_video=pair.source_video, fallback=bool(pair.fallback), candidates=int(pair.candidates))
        if pair.fallback:
            off["fallback_reason"] = pair.reason
        outputs["offscreen"] = off
    if unseen is not None and "unseen" in outputs:
        outputs["unseen"] = {**outputs["unseen"], "pool_file": unseen["name"], "pool_sha256": unseen["sha256"]}
    return {**record, "outputs": outputs}


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(os.path.realpath(path)).relative_to(Path(os.path.realpath(root))).as_posix()
    except ValueError:
        return path.name
