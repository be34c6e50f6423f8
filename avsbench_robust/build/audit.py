"""Leak audit: can a trivial classifier tell a condition from positive by feature statistics alone?

Per clip and condition we take the mean and standard deviation of each log-mel band (128 numbers)
and fit an L2-regularised logistic regression, scored by k-fold cross-validation with a clip's
positive and negative always in the same fold. Silence and noise are separable by content — that
is what they are, not a leak. Offscreen audio is another clip's positive audio through the same
front end, so it must sit at chance; the authors' pipeline (negatives through a different,
z-scored front end) makes it separable, which `simulate_authors=True` reproduces approximately.

The judgement is a stated test, two-sided: the pooled count of correct held-out decisions (2 per
clip) against chance with an exact binomial test (H0: p = 0.5, alpha = 0.01). Above chance is a
leak; below chance is a finding too (a systematically wrong classifier: something differs between
the two sides), never "near chance". Fewer than MIN_CLIPS_TO_JUDGE clips get no verdict at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.optimize

from ..errors import AVSBRobustError, InputFileError
from ..predictions.bounded import ArrayProblem, NpyHeader, check_size, read_array
from ..types import Condition
from .manifest import read_manifest

#: Below this many clips (2x decisions) no verdict is printed: with 20 clips, 40 decisions, the exact test
#: at alpha 0.01 already needs >= 75 % (or <= 25 %) correct before it can call anything.
MIN_CLIPS_TO_JUDGE = 20
ALPHA = 0.01
TEST_NAME = "exact two-sided binomial test vs chance 0.5 on pooled held-out decisions, alpha 0.01"


@dataclass(frozen=True)
class AuditRow:
    condition: str
    clips: int
    folds: int
    accuracy: float  # mean cross-validated accuracy, positive vs this condition
    accuracy_std: float
    verdict: str
    correct: int = 0  # pooled held-out decisions that were right ...
    decisions: int = 0  # ... out of this many (2 per clip)
    p_value: float | None = None  # exact two-sided binomial vs 0.5
    test: str = TEST_NAME

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def clip_stats(features: np.ndarray) -> np.ndarray:
    """[128]: per-band mean and std of one clip's log-mel, features `[n, 1, 96, 64]`."""
    frames = np.asarray(features, dtype=np.float64).reshape(-1, features.shape[-1])
    return np.concatenate([frames.mean(axis=0), frames.std(axis=0)])


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Weights [d + 1] (bias last) of L2-regularised logistic regression, by L-BFGS on the exact gradient."""
    xb = np.hstack([x, np.ones((x.shape[0], 1))])
    reg = np.r_[np.full(x.shape[1], l2), 0.0]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = xb @ w
        # log(1 + e^z) - y z, stably; gradient uses the logistic function.
        nll = np.sum(np.logaddexp(0.0, z) - y * z) / len(y) + 0.5 * np.sum(reg * w * w) / len(y)
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        grad = xb.T @ (p - y) / len(y) + reg * w / len(y)
        return float(nll), grad

    res = scipy.optimize.minimize(loss, np.zeros(xb.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x


def predict_logistic(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (x @ w[:-1] + w[-1]) > 0


def cv_accuracy(pos: np.ndarray, neg: np.ndarray, folds: int = 5, seed: int = 0) -> tuple[float, float, int]:
    """(mean, std, k) k-fold accuracy separating `neg` from `pos` rows; row i of both is the same clip (same fold)."""
    mean, sd, k, _correct, _n = cv_decisions(pos, neg, folds, seed)
    return mean, sd, k


def cv_decisions(pos: np.ndarray, neg: np.ndarray, folds: int = 5, seed: int = 0) -> tuple[float, float, int, int, int]:
    """`cv_accuracy` plus the pooled (correct, total) held-out decisions the significance test counts."""
    n = pos.shape[0]
    k = min(folds, n)
    if k < 2:
        raise AVSBRobustError(f"the audit needs at least 2 clips, got {n}")
    fold = np.random.default_rng(seed).permutation(n) % k
    accs, correct, total = [], 0, 0
    for f in range(k):
        tr, te = fold != f, fold == f
        x_tr = np.vstack([pos[tr], neg[tr]])
        y_tr = np.r_[np.zeros(tr.sum()), np.ones(tr.sum())]
        mu, sd = x_tr.mean(axis=0), x_tr.std(axis=0)
        sd = np.where(sd > 1e-12, sd, 1.0)  # constant columns (e.g. silence) carry no scale
        w = fit_logistic((x_tr - mu) / sd, y_tr)
        x_te = (np.vstack([pos[te], neg[te]]) - mu) / sd
        y_te = np.r_[np.zeros(te.sum()), np.ones(te.sum())]
        right = predict_logistic(w, x_te) == y_te
        accs.append(float(np.mean(right)))
        correct += int(right.sum())
        total += int(right.size)
    return float(np.mean(accs)), float(np.std(accs)), k, correct, total


def binomial_p(correct: int, total: int) -> float:
    """Exact two-sided binomial p-value of `correct` out of `total` under chance 0.5."""
    from scipy.stats import binomtest

    return float(binomtest(correct, total, 0.5, alternative="two-sided").pvalue)


def verdict(condition: Condition, accuracy: float, clips: int, p_value: float | None = None) -> str:
    if condition in (Condition.SILENCE, Condition.NOISE, Condition.FUSED):
        return "separable by content (expected: it sounds different, not a pipeline leak)"
    if clips < MIN_CLIPS_TO_JUDGE:
        return f"no verdict: too few clips to judge (< {MIN_CLIPS_TO_JUDGE})"
    if p_value is None:
        raise ValueError("a verdict on clips enough to judge needs the test's p-value")
    if condition is Condition.UNSEEN:
        prefix = "other classes' sound: "
    else:
        prefix = ""
    if p_value >= ALPHA:
        return f"{prefix}consistent with chance (p = {p_value:.3g}): no leak detected"
    if accuracy > 0.5:
        if condition is Condition.UNSEEN:
            return f"{prefix}separable from positive (p = {p_value:.3g}): content or pipeline, check offscreen"
        return f"LEAK: separable from positive (p = {p_value:.3g})"
    return f"BELOW chance (p = {p_value:.3g}): systematically wrong, the two sides differ — investigate, not a pass"


def zscore_per_clip(features: np.ndarray) -> np.ndarray:
    """What the authors' script did to negatives (z-scored log-mel): a simulation for the comparison row."""
    f = np.asarray(features, dtype=np.float64)
    return (f - f.mean()) / (f.std() + 1e-8)


#: Largest features file the audit reads (a 10 s clip's log-mel is 240 kB).
MAX_FEATURE_BYTES = 64 << 20


def load_features(path: Path, shape: "list[int] | None") -> np.ndarray:
    """One clip's log-mel `[n, 1, 96, 64]`, through the bounded reader: the shape the manifest records,
    float, finite; anything else is an InputFileError naming the file (statistics of NaN mean nothing)."""
    def check(header: NpyHeader) -> None:
        if header.dtype.kind != "f":
            raise ArrayProblem(f"dtype {header.dtype}; expected float log-mel features")
        expected = tuple(shape) if shape else None
        if (expected is not None and header.shape != expected) or len(header.shape) != 4 or header.shape[-2:] != (96, 64):
            raise ArrayProblem(f"shape {list(header.shape)}; the manifest says {list(expected or [])} "
                               "([examples, 1, 96, 64])")
        check_size(header, MAX_FEATURE_BYTES)

    try:
        with open(path, "rb") as fp:
            feats = read_array(fp, check)
    except ArrayProblem as exc:
        raise InputFileError(path, f"unusable features ({exc})") from None
    except OSError as exc:
        raise InputFileError(path, f"unreadable features ({exc.strerror or exc})") from None
    if not np.isfinite(feats).all():
        raise InputFileError(path, "features hold NaN or infinite values")
    return feats


def load_stats(out: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(manifest, condition -> [clips, 128] statistics) of a built tree, clips in manifest order."""
    out = Path(out)
    manifest = read_manifest(out)
    stats: dict[str, list[np.ndarray]] = {c: [] for c in manifest["conditions"]}
    for clip in manifest["clips"]:
        for cond, rec in clip["outputs"].items():
            stats[cond].append(clip_stats(load_features(out / rec["features"], rec.get("features_shape"))))
    return manifest, {c: np.stack(v) for c, v in stats.items() if v}


def audit(out: str | Path, folds: int = 5, seed: int = 0, simulate_authors: bool = False) -> list[AuditRow]:
    """One row per condition present besides positive (plus, on request, the simulated authors' offscreen)."""
    out = Path(out)
    manifest, stats = load_stats(out)
    if Condition.POSITIVE.value not in stats:
        raise AVSBRobustError(f"{out}: the audit compares against positive, which this build does not have")
    pos = stats[Condition.POSITIVE.value]
    rows = []
    for cond in Condition:
        if cond is Condition.POSITIVE or cond.value not in stats:
            continue
        rows.append(_row(cond.value, cond, pos, stats[cond.value], folds, seed))
    if simulate_authors and Condition.OFFSCREEN.value in stats:
        neg = []
        for clip in manifest["clips"]:
            rec = clip["outputs"]["offscreen"]
            neg.append(clip_stats(zscore_per_clip(load_features(out / rec["features"], rec.get("features_shape")))))
        rows.append(_row("offscreen (authors' pipeline, simulated)", Condition.OFFSCREEN, pos, np.stack(neg), folds, seed))
    return rows


def _row(name: str, cond: Condition, pos: np.ndarray, neg: np.ndarray, folds: int, seed: int) -> AuditRow:
    acc, sd, k, correct, total = cv_decisions(pos, neg, folds, seed)
    p = binomial_p(correct, total)
    return AuditRow(name, pos.shape[0], k, acc, sd, verdict(cond, acc, pos.shape[0], p), correct, total, p)
