"""Seeded sampling of what a prompt asks for: one verb, noun and adjective, a subset of features,
and some diversity axes.

Every prompt has its own RNG, derived from (seed, index) by hashing, so prompt i is the same whether
or not prompts 0..i-1 were drawn, on every machine (Python's Mersenne Twister is platform-stable for
integer seeds), and prompts can be sampled in any order or in parallel.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from storygen.features import FeatureSet
from storygen.records import Words
from storygen.vocab import Vocabulary


@dataclass(frozen=True)
class Draw:
    words: Words
    features: list[str]
    axes: dict[str, str]


def rng_for(seed: int, index: int) -> random.Random:
    digest = hashlib.sha256(f"storygen:{seed}:{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def weighted_sample(rng: random.Random, weights: dict[str, float], k: int) -> list[str]:
    """k distinct keys, each drawn with chance proportional to its weight (Efraimidis–Spirakis keys:
    u ** (1 / w), keep the k largest). Zero-weight keys are never drawn. Order follows `weights`."""
    keyed = [(rng.random() ** (1.0 / w), name) for name, w in weights.items() if w > 0]
    chosen = {name for _, name in sorted(keyed, reverse=True)[:k]}
    return [name for name in weights if name in chosen]


def draw(
    vocab: Vocabulary,
    features: FeatureSet,
    seed: int,
    index: int,
    min_features: int,
    max_features: int,
    weights: dict[str, float],
    axis_probability: dict[str, float],
) -> Draw:
    """Sample prompt `index` of the stream seeded by `seed`. `weights` and `axis_probability` are the
    effective values (defaults from features.yaml already merged with the config's overrides)."""
    rng = rng_for(seed, index)
    words = Words(verb=rng.choice(vocab.verbs), noun=rng.choice(vocab.nouns), adjective=rng.choice(vocab.adjectives))
    k = rng.randint(min_features, max_features)
    picked = weighted_sample(rng, weights, k)
    axes: dict[str, str] = {}
    for name, axis in features.axes.items():
        # Draw both numbers for every axis so the stream does not shift when a probability changes.
        u, value = rng.random(), rng.choice(axis.values)
        if u < axis_probability.get(name, axis.probability):
            axes[name] = value
    return Draw(words=words, features=picked, axes=axes)
