"""LSH banding: stories whose signatures agree on every row of some band become candidate pairs.

For each band the rows are folded into one 64-bit key; sorting the keys puts equal keys side by
side, and each member of a run of equal keys is paired with the run's first member (a star, not all
pairs: union-find joins the rest). The chance that a pair of Jaccard similarity s becomes a
candidate is 1 - (1 - s^rows)^bands.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

_C = np.uint64(0x9E3779B97F4A7C15)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(bands, n) uint64: for each band, one key per story folded from its `rows` signature values.
    Computed by the signature workers chunk by chunk, so that the parent never has to transpose the
    whole signature matrix."""
    keys = np.zeros((bands, sig.shape[0]), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            key = keys[band]
            for j in range(rows):
                key ^= sig[:, band * rows + j]
                key *= _C
                key += np.uint64(j + 1)
    return keys


def _band_pairs(band_key: np.ndarray) -> np.ndarray:
    """Pairs (packed i << 32 | j, i < j) of positions with equal keys in one band: each member of a run
    of equal keys with the run's first member."""
    order = np.argsort(band_key)
    sk = band_key[order]
    same = sk[1:] == sk[:-1]
    if not same.any():
        return np.zeros(0, dtype=np.int64)
    run_start = np.concatenate(([True], ~same))  # first element of each run of equal keys
    first = order[np.maximum.accumulate(np.where(run_start, np.arange(len(sk)), 0))]
    members = np.flatnonzero(~run_start)
    i, j = first[members].astype(np.int64), order[members].astype(np.int64)
    return np.minimum(i, j) << 32 | np.maximum(i, j)


def pairs_from_band_keys(keys: np.ndarray, columns: np.ndarray | None = None, threads: int = 1) -> np.ndarray:
    """Unique (i, j) pairs, i < j, as an (m, 2) int64 array, of stories whose (bands, n) band keys
    agree on some band; with `columns`, among those stories only (the pairs are still column
    numbers of `keys`). Bands are sorted on `threads` threads (NumPy's sort runs without the GIL).
    The sort need not be stable: which member of a bucket is the star's centre does not change the
    clusters."""

    def band(b: int) -> np.ndarray:
        if columns is None:
            return _band_pairs(keys[b])
        packed = _band_pairs(keys[b][columns])
        return columns[packed >> 32] << 32 | columns[packed & 0xFFFFFFFF]

    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            found = list(pool.map(band, range(len(keys))))
    else:
        found = [band(b) for b in range(len(keys))]
    packed = np.unique(np.concatenate([np.zeros(0, dtype=np.int64), *found]))
    return np.stack([packed >> 32, packed & 0xFFFFFFFF], axis=1)


def candidate_probability(s: float, bands: int, rows: int) -> float:
    return 1 - (1 - s**rows) ** bands
