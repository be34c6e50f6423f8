"""One flat, display-ready row per entry (pure): the numbers, how they were obtained, and G recomputed.

Paper entries report one negative condition (Table 1's "Unseen Audio") where scored entries report
the pooled negatives N; `neg_scope` says which, so no table mixes the two silently.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..types import NEGATIVE_CONDITIONS, Condition, Subset
from .entries import Entry

DATASET_LABEL = {"avsbench": "AVSBench", "synthetic": "synthetic sanity set"}


def g_metric(pos: float | None, neg: float | None) -> float | None:
    """Harmonic mean of the positive score and (1 - negative score), SPEC §3 (0 when both terms are 0)."""
    if pos is None or neg is None:
        return None
    denom = pos + 1.0 - neg
    return 0.0 if denom <= 0 else 2.0 * pos * (1.0 - neg) / denom


@dataclass(frozen=True)
class BoardRow:
    name: str
    subset: Subset
    split: str
    dataset: str
    model: str
    variant: str
    backbone: str | None
    source: str
    protocol: str
    batch_size: int | None
    eval_size: int | None
    toolkit_version: str | None
    command: str
    date: str
    paper_url: str | None
    code_url: str | None
    notes: str
    pos_miou: float | None
    pos_f: float | None
    neg_miou: float | None
    neg_f: float | None
    neg_fpr: float | None
    neg_scope: str
    fpr_by_condition: tuple[tuple[str, float | None], ...]
    g_miou: float | None
    g_f: float | None
    g_fpr: float | None
    g_miou_recomputed: float | None
    g_f_recomputed: float | None
    g_fpr_recomputed: float | None
    frames: int | None
    transcription: dict | None
    has_predictions: bool = False
    intervals: dict | None = None
    citation: str | None = None

    @property
    def status(self) -> str:
        """paper (transcribed as printed), verified (ci re-scores its shipped predictions) or self-reported."""
        if self.source == "paper":
            return "paper"
        return "verified" if self.has_predictions else "self-reported"

    @property
    def display_name(self) -> str:
        return f"{self.model} ({self.variant})" if self.variant and self.variant != "baseline" else self.model

    @property
    def how(self) -> str:
        """How the numbers were obtained, in one cell."""
        if self.source == "paper":
            return "printed in the paper (transcribed)"
        bits = [f"{self.source}", f"{self.protocol} protocol"]
        if self.protocol == "official":
            bits.append(f"batch {self.batch_size if self.batch_size is not None else '?'}")
        bits.append(f"eval {self.eval_size}px" if self.eval_size else "eval size not stated")
        bits.append(f"toolkit {self.toolkit_version}")
        return ", ".join(bits)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _cond(results: dict, cond: str, key: str) -> float | None:
    block = (results.get("conditions") or {}).get(cond) or {}
    return _num(block.get(key)) if isinstance(block, dict) else None


def _frames(results: dict) -> int | None:
    total = 0
    found = False
    for block in (results.get("conditions") or {}).values():
        if isinstance(block, dict) and isinstance(block.get("frames"), int):
            total += block["frames"]
            found = True
    return total if found else None


def _eval_size(meta: dict, results: dict) -> int | None:
    if isinstance(meta.get("eval_size"), int):
        return meta["eval_size"]
    prov = results.get("provenance") or {}
    for key in ("eval_size", "size", "resolution"):
        value = prov.get(key) if isinstance(prov, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) for v in value):
            return int(value[0])
    return None


def row_from_entry(entry: Entry) -> BoardRow:
    meta, res = entry.metadata, entry.results
    glob = res.get("global") or {}
    transcription = res.get("transcription") if meta["source"] == "paper" else None
    pos_miou, pos_f = _cond(res, Condition.POSITIVE.value, "miou"), _cond(res, Condition.POSITIVE.value, "f_score")
    if transcription is not None:
        unseen = transcription.get("unseen_condition")
        neg_miou = _cond(res, unseen, "miou") if unseen else None
        neg_f = _cond(res, unseen, "f_score") if unseen else None
        neg_fpr = _cond(res, unseen, "fpr") if unseen else None
        scope = f"{unseen} only (the paper's 'Unseen Audio')" if unseen else "not printed"
    else:
        neg = res.get("negative") or {}
        neg_miou, neg_f, neg_fpr = _num(neg.get("miou")), _num(neg.get("f_score")), _num(neg.get("fpr"))
        pooled = [c.value for c in NEGATIVE_CONDITIONS if c.value in (res.get("conditions") or {})]
        scope = f"pooled N ({', '.join(pooled or [c.value for c in NEGATIVE_CONDITIONS[:3]])})"
    fprs = tuple((c.value, _cond(res, c.value, "fpr")) for c in NEGATIVE_CONDITIONS)
    return BoardRow(
        name=entry.name, subset=Subset.parse(meta["subset"]), split=meta["split"], dataset=meta["dataset"],
        model=meta["model"], variant=meta["variant"], backbone=meta.get("backbone"), source=meta["source"],
        protocol=meta["protocol"], batch_size=res.get("batch_size", meta.get("batch_size")),
        eval_size=_eval_size(meta, res), toolkit_version=meta.get("toolkit_version"), command=meta["command"],
        date=meta["date"], paper_url=meta["links"]["paper"], code_url=meta["links"]["code"],
        notes=meta.get("notes", ""),
        pos_miou=pos_miou, pos_f=pos_f, neg_miou=neg_miou, neg_f=neg_f, neg_fpr=neg_fpr, neg_scope=scope,
        fpr_by_condition=fprs,
        g_miou=_num(glob.get("g_miou")), g_f=_num(glob.get("g_f")), g_fpr=_num(glob.get("g_fpr")),
        g_miou_recomputed=g_metric(pos_miou, neg_miou), g_f_recomputed=g_metric(pos_f, neg_f),
        g_fpr_recomputed=neg_fpr, frames=_frames(res), transcription=transcription,
        has_predictions=bool(entry.predictions), intervals=res.get("intervals") if transcription is None else None,
        citation=meta.get("citation"),
    )


def consistency_problems(row: BoardRow, tol: float = 1e-6) -> list[str]:
    """Scored entries must be internally consistent: stored G-metrics equal the ones their columns give."""
    if row.source == "paper":
        return []  # printed G-values are known not to follow from the printed columns (SPEC §5)
    problems = []
    for label, stored, recomputed in (("g_miou", row.g_miou, row.g_miou_recomputed), ("g_f", row.g_f, row.g_f_recomputed),
                                      ("g_fpr", row.g_fpr, row.g_fpr_recomputed)):
        if stored is None or recomputed is None:
            problems.append(f"results.json: global.{label} or the columns it comes from are missing")
        elif abs(stored - recomputed) > tol:
            problems.append(f"results.json: global.{label} = {stored!r} but its columns give {recomputed!r}")
    return problems


def sort_key(row: BoardRow) -> tuple:
    """Best G-mIoU first; missing values last; ties broken by name so output is deterministic."""
    g = row.g_miou
    return (g is None, -(g or 0.0), row.name)


def table_groups(rows: list[BoardRow]) -> list[tuple[tuple[Subset, str], list[BoardRow]]]:
    """One table per subset and dataset (AVSBench rows first, then synthetic sanity rows), each sorted."""
    order = {s: i for i, s in enumerate(Subset)}
    dorder = {"avsbench": 0, "synthetic": 1}  # other synthetic trees (synthetic-seedS-videosN) after these
    groups: dict[tuple[Subset, str], list[BoardRow]] = {}
    for row in rows:
        groups.setdefault((row.subset, row.dataset), []).append(row)
    keys = sorted(groups, key=lambda k: (order[k[0]], dorder.get(k[1], 9), k[1]))
    return [(k, sorted(groups[k], key=sort_key)) for k in keys]
