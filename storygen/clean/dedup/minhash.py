"""MinHash signatures over word n-gram shingles, vectorised with NumPy.

Per story the only Python-level work is splitting the text into words and looking each word's
64-bit hash up in a dict (children's stories reuse few words, so the dict stays small and warm).
Everything after that is array arithmetic over a whole chunk of stories at once:
  shingle hash   h = sum_j word[i + j] * P^j (mod 2^64), a splitmix64 mixer, top 32 bits kept
  permutation k  (a_k * h + b_k) mod 2^32 with a_k odd: a bijection on 32-bit words
  signature      the minimum over each story's shingles (np.minimum.reduceat)
32-bit arithmetic is what makes this fast: NumPy multiplies uint32 with SIMD but uint64 one element
at a time, and one permutation at a time over a chunk's shingles stays in cache (measured: 13 µs per
200-word story for 128 permutations, against ~230 µs for 64-bit blocks). Because the shingle hashes
are mixed first, the estimates are as accurate as ideal MinHash: over 300 random pairs each, bias
under 0.01 and spread within 0.001 of sqrt(J(1 - J) / 128) at J = 0.3, 0.5, 0.8 and 0.9.
"""

from __future__ import annotations

import hashlib

import numpy as np

# Lowercased text -> words: every ASCII character but letters, digits and the apostrophe becomes a
# space, and so do typographic quotes and dashes (str.translate + split is ~2.4x faster than a regex).
_SPLIT = str.maketrans(
    {**{chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "'")},
     **dict.fromkeys("“”„«»‹›—–…", " "), "’": "'", "‘": "'"}
)  # fmt: skip


def words(text: str) -> list[str]:
    return text.lower().translate(_SPLIT).split()


_P = np.uint64(0x100000001B3)  # FNV prime, for combining word hashes
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)  # splitmix64 finaliser


def normalise(text: str) -> str:
    """Lowercase words joined by single spaces: what exact and fuzzy comparison look at."""
    return " ".join(words(text))


def exact_key(text: str) -> int:
    """A 64-bit key of the normalised text (case, whitespace and punctuation ignored)."""
    return key_of_words(words(text))


def key_of_words(ws: list[str]) -> int:
    return int.from_bytes(hashlib.blake2b(" ".join(ws).encode(), digest_size=8).digest(), "little")


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


class MinHasher:
    def __init__(self, num_perm: int = 128, shingle_size: int = 3, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.a = (rng.integers(1, 2**32, size=num_perm, dtype=np.uint64) | np.uint64(1)).astype(np.uint32)
        self.b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint64).astype(np.uint32)
        self.num_perm, self.k = num_perm, shingle_size
        self._words: dict[str, int] = {}
        self._powers = np.array([_P ** np.uint64(j) for j in range(shingle_size)], dtype=np.uint64)

    def _hash_word(self, w: str) -> int:
        h = self._words[w] = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
        return h

    def word_hashes(self, texts: list[str], keys: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """All texts' word hashes in one flat array, and the number of words of each text. With
        `keys`, also appends each text's exact key (from the same split, so it is done once)."""
        get = self._words.get
        flat: list[int] = []
        lens = []
        for t in texts:
            ws = words(t)
            if keys is not None:
                keys.append(key_of_words(ws))
            hs = list(map(get, ws))
            if None in hs:
                hs = [h if h is not None else self._hash_word(w) for h, w in zip(hs, ws, strict=True)]
            flat.extend(hs)
            lens.append(len(ws))
        return np.array(flat, dtype=np.uint64), np.array(lens, dtype=np.int64)

    def shingles(self, flat: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hashes of every run of k consecutive words inside one text (a text of fewer than k words
        is one shingle of all its words), and each shingle's text index, sorted by text."""
        k, n = self.k, len(flat)
        owner = np.repeat(np.arange(len(lens)), lens)
        parts, owners = [], []
        with np.errstate(over="ignore"):
            if n >= k:
                acc = np.zeros(n - k + 1, dtype=np.uint64)
                for j in range(k):
                    acc += flat[j : n - k + 1 + j] * self._powers[j]
                inside = owner[: n - k + 1] == owner[k - 1 :]
                parts.append(acc[inside])
                owners.append(owner[: n - k + 1][inside])
            short = np.flatnonzero((lens > 0) & (lens < k))
            if len(short):
                starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
                one = [
                    (flat[starts[t] : starts[t] + lens[t]] * self._powers[: lens[t]]).sum(dtype=np.uint64)
                    for t in short
                ]
                parts.append(np.array(one, dtype=np.uint64))
                owners.append(short)
        if not parts:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
        sh, ow = np.concatenate(parts), np.concatenate(owners)
        if len(parts) > 1:
            order = np.argsort(ow, kind="stable")
            sh, ow = sh[order], ow[order]
        return _mix(sh), ow

    def signatures(self, texts: list[str], keys: list[int] | None = None) -> np.ndarray:
        """(len(texts), num_perm) uint32 signatures; an empty text gets all-ones (matches nothing real).
        With `keys`, each text's exact key is appended to it as well."""
        sig = np.full((len(texts), self.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        flat, lens = self.word_hashes(texts, keys)
        sh, owner = self.shingles(flat, lens)
        if len(sh) == 0:
            return sig
        counts = np.bincount(owner, minlength=len(texts))
        nonempty = np.flatnonzero(counts)
        starts = np.concatenate(([0], np.cumsum(counts[nonempty])[:-1]))
        h32 = (sh >> np.uint64(32)).astype(np.uint32)
        buf = np.empty_like(h32)
        for k in range(self.num_perm):
            np.multiply(h32, self.a[k], out=buf)
            buf += self.b[k]
            sig[nonempty, k] = np.minimum.reduceat(buf, starts)
        return sig


def jaccard_estimate(s1: np.ndarray, s2: np.ndarray) -> float:
    return float(np.mean(s1 == s2))
