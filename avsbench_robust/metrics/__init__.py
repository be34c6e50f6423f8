"""Metric computation: pure per-frame functions (numpy; torch in torch_ops) and protocol aggregation."""
from .aggregate import Aggregate, aggregate_binary, aggregate_semantic, g_metric
from .binary import THRESHOLDS, BinaryFrameStats, binary_frame_stats, threshold_counts, to_probability
from .semantic import NUM_CLASSES, SemanticFrameStats, semantic_frame_stats

__all__ = [
    "Aggregate", "aggregate_binary", "aggregate_semantic", "g_metric",
    "THRESHOLDS", "BinaryFrameStats", "binary_frame_stats", "threshold_counts", "to_probability",
    "NUM_CLASSES", "SemanticFrameStats", "semantic_frame_stats",
]
