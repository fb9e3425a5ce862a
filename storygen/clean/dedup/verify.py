"""Verification of candidate pairs with rapidfuzz, and clustering with union-find."""

from __future__ import annotations

import numpy as np
from rapidfuzz import fuzz, process


def similarity(a: str, b: str) -> float:
    """0..1: the better of the character-level ratio (catches edits) and the sorted-token ratio
    (catches reordered sentences), both on normalised text."""
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)) / 100.0


def similarities(a: list[str], b: list[str], workers: int = -1) -> np.ndarray:
    """`similarity(a[k], b[k])` for every k, computed by rapidfuzz's C++ loop (process.cpdist) on
    `workers` threads (-1: all cores) instead of one Python call per pair."""
    if not a:
        return np.zeros(0)
    ratio = process.cpdist(a, b, scorer=fuzz.ratio, workers=workers, dtype=np.float64)
    sorted_ratio = process.cpdist(a, b, scorer=fuzz.token_sort_ratio, workers=workers, dtype=np.float64)
    return np.maximum(ratio, sorted_ratio) / 100.0


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def clusters(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for x in list(self.parent):
            out.setdefault(self.find(x), []).append(x)
        for root, members in out.items():
            if root not in members:
                members.append(root)
            members.sort()
        return out
