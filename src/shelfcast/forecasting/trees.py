"""A forest of regression trees as flat arrays, evaluated in numpy.

`from_lightgbm` reads a trained LightGBM booster's `dump_model()` (numerical splits only) into a
`Forest` of plain tuples (JSON-ready, no LightGBM object), and `predict` evaluates it for a
feature matrix the way LightGBM does, missing values included:

- a split sends x left when x <= threshold;
- its `missing_type` decides what is missing: "NaN" (NaN takes the default side), "Zero" (NaN
  counts as 0, and 0 takes the default side) or "None" (NaN counts as 0 and is compared);
- leaf values already include the learning rate, and the first tree the average it started
  from: the prediction is the sum of one leaf per tree.

Evaluation imports numpy only; `from_lightgbm` takes the dump's dict and imports nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

MISSING_TYPES = ("None", "Zero", "NaN")
_ZERO = 1e-35  # LightGBM's kZeroThreshold


@dataclass(frozen=True)
class Forest:
    """Trees stored one after another. Tree i has `sizes[i]` split nodes (0: a single leaf)
    and `sizes[i] + 1` leaves. Per split node: `feature`, `threshold`, `decision` (missing
    type index in `MISSING_TYPES` * 2 + 1 if missing values go left), `left` and `right`
    children (an index among the tree's split nodes, or ~leaf: -1 for leaf 0, -2 for leaf 1).
    Per leaf: `leaf_value`."""

    sizes: tuple[int, ...]
    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    decision: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    leaf_value: tuple[float, ...]
    n_features: int

    def __post_init__(self) -> None:
        nodes, leaves = sum(self.sizes), sum(self.sizes) + len(self.sizes)
        split_fields = (self.feature, self.threshold, self.decision, self.left, self.right)
        if any(len(a) != nodes for a in split_fields) or len(self.leaf_value) != leaves:
            raise ValueError("forest arrays do not match the tree sizes")
        if any(f < 0 or f >= self.n_features for f in self.feature):
            raise ValueError("a split uses a feature outside 0..n_features - 1")

    @property
    def n_trees(self) -> int:
        return len(self.sizes)


def from_lightgbm(dump: Mapping[str, Any]) -> Forest:
    """The forest of a single-output LightGBM model, from `booster.dump_model()`."""
    if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("num_class", 1) != 1:
        raise ValueError("only single-output models convert to a Forest")
    if dump.get("average_output"):
        raise ValueError("averaged forests (random forest mode) are not supported")
    sizes: list[int] = []
    feature: list[int] = []
    threshold: list[float] = []
    decision: list[int] = []
    left: list[int] = []
    right: list[int] = []
    leaf_value: list[float] = []
    for info in dump["tree_info"]:
        nodes: list[dict[str, Any]] = []
        leaves: list[float] = []

        def visit(node: Mapping[str, Any], nodes: list = nodes, leaves: list = leaves) -> int:
            if "leaf_value" in node or "split_feature" not in node:
                leaves.append(float(node["leaf_value"]))
                return ~(len(leaves) - 1)
            if node.get("decision_type", "<=") != "<=":
                raise ValueError(f"unsupported split {node.get('decision_type')!r} (categorical)")
            index = len(nodes)
            nodes.append(node)
            children = (visit(node["left_child"]), visit(node["right_child"]))
            nodes[index] = {**node, "_children": children}
            return index

        visit(info["tree_structure"])
        sizes.append(len(nodes))
        for node in nodes:
            feature.append(int(node["split_feature"]))
            threshold.append(float(node["threshold"]))
            missing = MISSING_TYPES.index(node.get("missing_type", "None"))
            decision.append(missing * 2 + int(bool(node.get("default_left", True))))
            left.append(node["_children"][0])
            right.append(node["_children"][1])
        leaf_value.extend(leaves)
    return Forest(
        sizes=tuple(sizes),
        feature=tuple(feature),
        threshold=tuple(threshold),
        decision=tuple(decision),
        left=tuple(left),
        right=tuple(right),
        leaf_value=tuple(leaf_value),
        n_features=int(dump["max_feature_idx"]) + 1,
    )


BLOCK_ROWS = 2048  # rows evaluated together
# Forests as numpy arrays, by the ids of their tuples (held, so that the ids stay theirs): a
# catalogue's titles share one pooled forest's tuples.
_ARRAYS: dict[tuple[int, ...], tuple[Forest, tuple[np.ndarray, ...]]] = {}
ARRAYS_SIZE = 16


def _arrays(forest: Forest) -> tuple[np.ndarray, ...]:
    """The forest's arrays for `predict`, built once per forest."""
    key = tuple(id(getattr(forest, f.name)) for f in dataclasses.fields(forest))
    found = _ARRAYS.get(key)
    if found is not None and all(
        getattr(found[0], f.name) is getattr(forest, f.name) for f in dataclasses.fields(forest)
    ):
        return found[1]
    sizes = np.asarray(forest.sizes, dtype=np.int64)
    node_start = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
    leaf_start = node_start + np.arange(len(sizes))
    feature = np.asarray(forest.feature, dtype=np.int64)
    threshold = np.asarray(forest.threshold, dtype=np.float64)
    decision = np.asarray(forest.decision, dtype=np.int64)
    missing, default_left = decision // 2, decision % 2 == 1
    tree_of_node = np.repeat(np.arange(len(sizes)), sizes)

    def globalise(child: tuple[int, ...]) -> np.ndarray:
        """Children as global indices: split nodes >= 0, leaves as ~(global leaf index)."""
        c = np.asarray(child, dtype=np.int64)
        tree = tree_of_node
        return np.where(c >= 0, node_start[tree] + c, ~(leaf_start[tree] + ~c))

    left, right = globalise(forest.left), globalise(forest.right)
    values = np.asarray(forest.leaf_value, dtype=np.float64)
    arrays = (sizes, node_start, leaf_start, feature, threshold, missing, default_left)
    arrays += (left, right, values)
    if len(_ARRAYS) >= ARRAYS_SIZE:
        _ARRAYS.clear()
    _ARRAYS[key] = (forest, arrays)
    return arrays


def predict(forest: Forest, x: np.ndarray) -> np.ndarray:
    """The forest's prediction for each row of `x` (rows x n_features; NaN is missing)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != forest.n_features:
        raise ValueError(f"expected rows of {forest.n_features} features, got shape {x.shape}")
    (
        sizes,
        node_start,
        leaf_start,
        feature,
        threshold,
        missing,
        default_left,
        left,
        right,
        values,
    ) = _arrays(forest)
    roots = np.where(sizes > 0, node_start, ~leaf_start)
    out = np.empty(x.shape[0])
    for begin in range(0, x.shape[0], BLOCK_ROWS):  # blocks that stay in the CPU's caches
        block = x[begin : begin + BLOCK_ROWS]
        n = block.shape[0]
        # every (row, tree) pair walks down from its tree's root (or sits at its only leaf)
        state = np.broadcast_to(roots, (n, len(sizes))).copy()
        rows = np.broadcast_to(np.arange(n)[:, None], state.shape)
        active = state >= 0
        while active.any():
            r, node = rows[active], state[active]
            v = block[r, feature[node]]
            is_nan = np.isnan(v)
            v = np.where(is_nan & (missing[node] != 2), 0.0, v)
            is_missing = ((missing[node] == 1) & (np.abs(v) <= _ZERO)) | (
                (missing[node] == 2) & is_nan
            )
            go_left = np.where(is_missing, default_left[node], v <= threshold[node])
            state[active] = np.where(go_left, left[node], right[node])
            active = state >= 0
        out[begin : begin + n] = values[~state].sum(axis=1)
    return out


def rounded(forest: Forest, threshold_digits: int = 9, leaf_digits: int = 7) -> Forest:
    """The forest with thresholds and leaf values rounded to significant digits, which halves
    its JSON. Thresholds lie halfway between neighbouring values seen in training, so rounding
    them to 9 digits moves no split across the data in practice; leaf values to 7 digits move a
    prediction by about 1e-7 of a leaf's size per tree."""

    def round_to(values: tuple[float, ...], digits: int) -> tuple[float, ...]:
        return tuple(float(f"{v:.{digits}g}") for v in values)

    return dataclasses.replace(
        forest,
        threshold=round_to(forest.threshold, threshold_digits),
        leaf_value=round_to(forest.leaf_value, leaf_digits),
    )
