"""Splitting text into word tokens: `tokens(text)`, and for a batch of texts, every token as a
64-bit hash without a Python string per token.

Validation and MinHash both need every word of every story; making a `str` per token (split) and
hashing it again in a dict costs more than everything else they do with the word. Here a batch of
texts becomes one bytes buffer (words separated by spaces, texts by NUL: the rules of `tokens`,
one bytes.translate once `narrow` has dealt with the few non-ASCII separators), and from then on
it is array arithmetic: each word is read 8 bytes at a time straight from the buffer, the bytes
past its end masked off, and the pieces folded through a mixer. The same word gets the same hash
anywhere; different words differ (no word holds a NUL, so a masked piece fixes its own length)
unless two 64-bit hashes collide (~1e-8 for a million distinct words).

`HashIndex` maps those hashes to small ids (a form's row in a table) with vectorised lookups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Every character but letters, digits and apostrophes splits words ("ice-cream" is two words); curly
# apostrophes become straight.
SPLIT = str.maketrans(
    {**{chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "'")},
     **dict.fromkeys("“”„«»‹›—–…", " "), "’": "'", "‘": "'"}
)  # fmt: skip
# SPLIT for ASCII characters, as bytes (bytes.translate is ~3x faster than str.translate with a dict).
# Bytes from 128 up are left alone: in UTF-8 they belong to characters `narrow` has dealt with.
SPLIT_BYTES = bytes(ord(SPLIT[c]) if c in SPLIT and c < 128 else c for c in range(256))
_SPLIT_BYTES_KEEP_NUL = bytes(0 if c == 0 else SPLIT_BYTES[c] for c in range(256))

_LIMIT = 0x3001  # every Unicode space lies below (tests/test_split.py checks all of Unicode)


def narrow_table(mapping: dict[str, str], spaces: bool = False) -> np.ndarray:
    """A `narrow` table: code point -> code point, the characters of `mapping` (from 128 up) to
    theirs, and with `spaces` every Unicode space to " "; all else unchanged."""
    table = np.arange(max(_LIMIT if spaces else 0, *(ord(c) + 1 for c in mapping)), dtype=np.uint32)
    if spaces:
        table[[c for c in range(128, _LIMIT) if chr(c).isspace()]] = ord(" ")
    table[[ord(c) for c in mapping]] = [ord(v) for v in mapping.values()]
    return table


# Characters from 128 up that split words or become apostrophes: SPLIT's own, and the Unicode spaces
# (str.split splits at them).
_NARROW = narrow_table({chr(c): v for c, v in SPLIT.items() if c >= 128}, spaces=True)


def narrow(text: str, table: np.ndarray = _NARROW) -> str:
    """`text` with its characters from 128 up replaced as `table` (code point -> code point, up to
    its length) says; by default SPLIT's non-ASCII characters and the Unicode spaces become a space or
    an apostrophe, so that the rest is a bytes.translate. Done on the code points as a NumPy array
    (UTF-32): for a story with curly quotes, ~3 µs against ~75 µs for str.translate with a dict."""
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy()
    wide = np.flatnonzero(cp >= 128)
    wide = wide[cp[wide] < len(table)]
    cp[wide] = table[cp[wide]]
    return cp.tobytes().decode("utf-32-le", "surrogatepass")


def split_bytes(text: str, table: bytes = SPLIT_BYTES) -> bytes:
    """UTF-8 bytes of `text` in which every word separator is a space (SPLIT's rules)."""
    if not text.isascii():
        text = narrow(text)
    return text.encode("utf-8", "surrogatepass").translate(table)


def tokens(text: str) -> list[str]:
    """Word tokens in order. A token may carry quote marks at its edges ("'hello"); `word_of`
    removes them, once per distinct form."""
    return split_bytes(text).decode("utf-8", "surrogatepass").split()


# _LOW_BYTES[m]: the low m bytes of a uint64 (m = 0..8), to cut an 8-byte read at a word's end
_LOW_BYTES = np.array([(1 << (8 * m)) - 1 for m in range(9)], dtype=np.uint64)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)  # splitmix64 finaliser


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, element-wise on uint64 (wrapping)."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * _M1
        x = x ^ (x >> np.uint64(27))
        x = x * _M2
        return x ^ (x >> np.uint64(31))


def batch_bytes(texts: list[str], lower: bool = False) -> bytes:
    """The texts' words (`tokens`, of the lowercased text if asked) separated by spaces, the texts by NUL."""
    joined = "\0".join(texts)
    if joined.count("\0") != len(texts) - 1:  # a NUL inside a text (a separator anyway) would shift them
        joined = "\0".join(t.replace("\0", " ") for t in texts)
    return split_bytes(joined.lower() if lower else joined, _SPLIT_BYTES_KEEP_NUL)


@dataclass
class WordSpans:
    """The words of a batch buffer: byte start and length of each, its hash, and how many each text has."""

    data: bytes
    starts: np.ndarray  # int64
    lengths: np.ndarray  # int64
    hashes: np.ndarray  # uint64
    per_text: np.ndarray  # int64, one per text

    def word(self, k: int) -> str:
        return self.data[self.starts[k] : self.starts[k] + self.lengths[k]].decode("utf-8", "surrogatepass")


def hash_words(data: bytes) -> WordSpans:
    """Split a `batch_bytes` buffer into words and hash each one."""
    n = len(data)
    padded = data + bytes(8)  # so that the last word's 8-byte read stays inside the buffer
    c = np.frombuffer(padded, dtype=np.uint8, count=n)
    window = np.ndarray(shape=(n,), dtype="<u8", buffer=padded, strides=(1,))  # bytes i..i+7 as one number
    is_word = np.concatenate(([False], (c != 32) & (c != 0), [False]))
    bounds = np.flatnonzero(is_word[1:] != is_word[:-1])  # on bools: 4x faster than on an int diff
    starts, lengths = bounds[0::2], bounds[1::2] - bounds[0::2]  # word starts and ends alternate
    hashes = mix(window[starts] & _LOW_BYTES[np.minimum(lengths, 8)]) ^ lengths.astype(np.uint64)
    longer, r = np.flatnonzero(lengths > 8), 8
    while len(longer):  # the rest of words longer than 8 bytes, 8 bytes a round
        rest = lengths[longer] - r
        piece = window[starts[longer] + r] & _LOW_BYTES[np.minimum(rest, 8)]
        hashes[longer] = mix(hashes[longer] ^ piece)
        longer, r = longer[rest > 8], r + 8
    cuts = np.searchsorted(starts, np.flatnonzero(c == 0))  # words before each NUL
    per_text = np.diff(np.concatenate(([0], cuts, [len(starts)])))
    return WordSpans(data, starts, lengths, mix(hashes), per_text)


class HashIndex:
    """uint64 hash -> int id, an open-addressing table (linear probing, at most half full) looked up
    for a whole array at once. Written here because forms are added a few at a time between lookups
    of thousands, and a pandas Index (the library choice for bulk lookups) is rebuilt on every add."""

    def __init__(self, capacity: int = 1 << 16):
        self.keys = np.zeros(capacity, dtype=np.uint64)  # 0 marks an empty slot: key 0 is stored apart
        self.values = np.full(capacity, -1, dtype=np.int64)
        self.zero = -1
        self.size = 0

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The id of each key, -1 where absent."""
        mask = len(self.keys) - 1
        slot = (keys & np.uint64(mask)).astype(np.int64)
        out = np.full(len(keys), -1, dtype=np.int64)
        pending = np.arange(len(keys))
        while len(pending):
            found = self.keys[slot[pending]]
            hit = found == keys[pending]
            out[pending[hit]] = self.values[slot[pending[hit]]]
            pending = pending[~hit & (found != 0)]  # neither found nor at an empty slot: probe on
            slot[pending] = (slot[pending] + 1) & mask
        if self.zero >= 0:
            out[keys == 0] = self.zero
        return out

    def add(self, key: int, value: int) -> None:
        if key == 0:
            self.zero = value
            return
        if 2 * (self.size + 1) > len(self.keys):  # grow: twice the slots, every key placed again
            used = self.keys != 0
            keys, values = self.keys[used].tolist(), self.values[used].tolist()
            self.keys = np.zeros(2 * len(self.keys), dtype=np.uint64)
            self.values = np.full(len(self.keys), -1, dtype=np.int64)
            self.size = 0
            for k, v in zip(keys, values, strict=True):
                self.add(k, v)
        mask = len(self.keys) - 1
        slot = key & mask
        while self.keys[slot] != 0 and self.keys[slot] != key:
            slot = (slot + 1) & mask
        if self.keys[slot] == 0:
            self.size += 1
        self.keys[slot], self.values[slot] = key, value
