"""Vocabulary-constrained decoding: forms, the pattern, the token mask on a tiny model, and the
generate wiring (probe of the server, errors for backends that cannot enforce it)."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from storygen.clean.checks import analyse
from storygen.clean.lexicon import Lexicon
from storygen.constrain.forms import all_forms, allowed_forms
from storygen.constrain.pattern import SEPARATORS, Matcher, regex
from storygen.paths import VOCAB_DIR
from storygen.records import Story
from storygen.testing.openai_server import RunningServer
from storygen.vocab import load_vocabulary
from tests.test_train import corpus, run, tiny_config  # noqa: F401  (fixtures)

VOCAB = load_vocabulary(VOCAB_DIR)
FORMS = all_forms(VOCAB)
MATCHER = Matcher(FORMS)
PATTERN = re.compile(regex(FORMS))
STORY = (
    'Once upon a time, there was a little girl named Lily. She went to the park.\n\n"Can I play?" she asked. '
    'Her mom said, "Yes!"'
)


def test_forms_expand_inflections_capitals_possessives_and_contractions():
    cats = allowed_forms(VOCAB)
    for w in ("went", "going", "cats", "bigger", "biggest", "mice"):
        assert w in cats["content"], w
    for w in ("Lily's", "dog's", "dogs'"):
        assert w in cats["possessive"], w
    assert {"don't", "can't", "let's", "i'm"} <= cats["contraction"]
    assert {"The", "Once", "I", "Don't", "I'm"} <= FORMS
    assert not {"sunday", "photosynthesis", "Photosynthesis"} & FORMS


def test_pattern_accepts_allowed_stories_and_rejects_glued_or_foreign_words():
    for text in (STORY, "", "The sun day was nice.", "Tom and Sue ran to the big red barn!"):
        assert MATCHER.accepts(text) and PATTERN.fullmatch(text), text
    for text in ("The sunday was nice.", "The photosynthesis was nice.", "Thecat ran.", "The cat ran to the parkk."):
        assert not MATCHER.accepts(text) and not PATTERN.fullmatch(text), text


def test_a_prompt_ending_in_a_letter_needs_a_separator_first():
    after = MATCHER.start_after("Once upon a time")
    assert not MATCHER.walk(after, "perched") and MATCHER.walk(after, " perched")
    assert MATCHER.start_after("Once upon a time, ") == MATCHER.start


def test_regex_and_matcher_agree_on_random_texts():
    rng = random.Random(0)
    words = sorted(FORMS)
    for _ in range(300):
        parts = [rng.choice(words) if rng.random() < 0.9 else "zzq" for _ in range(rng.randint(1, 8))]
        glue = [rng.choice([" ", ", ", ". ", "\n\n", '" ', "", "-"]) for _ in parts]
        text = "".join(p + g for p, g in zip(parts, glue, strict=True))
        assert MATCHER.accepts(text) == bool(PATTERN.fullmatch(text)), text
    assert set(SEPARATORS) >= set(" \n.,!?\"'")


PIECES = ["<eot>", " ", "a", "the", " the", " cat", "cat", "s", "'", "'s", " Lily", ",", '."', "\n\n", " sun",
          "day", "Once", " upon", " time", "ran", " ran", "t", "he", " c", "at", " zz", "q", " park", ". ", "don't",
          " n"]  # fmt: skip


class _Pieces:
    """A stand-in tokenizer: token i decodes to PIECES[i]."""

    def __len__(self) -> int:
        return len(PIECES)

    def decode(self, ids: list[int]) -> str:
        return "".join(PIECES[i] for i in ids)


def test_allowed_tokens_are_exactly_those_whose_characters_the_automaton_reads():
    from storygen.constrain.decode import TokenConstraint

    tc = TokenConstraint(MATCHER, _Pieces(), eot=0)
    states = {MATCHER.start, MATCHER.start_after("Once"), tc.start()}
    for text in ("Once upon a", "The cat", "the sun", "Lily's", "Lily'", "don", "The dog ran", '"Hi," she said. '):
        states.add(MATCHER.walk(MATCHER.start, text))
    assert all(states) and any(len(s) > 1 for s in states)  # "Lily'" is both a quote and a possessive
    for state in states:
        brute = [i for i, p in enumerate(PIECES) if i and MATCHER.walk(state, p)]
        assert tc.allowed(state, allow_end=False).tolist() == brute, state
        end = [0] if MATCHER.can_end(state) else []
        assert tc.allowed(state).tolist() == sorted(brute + end), state
        for i in brute:
            assert tc.advance(state, i) == MATCHER.walk(state, PIECES[i])


def compliance(text: str) -> float:
    doc = analyse(Story(id="x", text=text), Lexicon(VOCAB))
    return doc.scores["vocab_compliance"]


def test_tiny_model_constrained_output_is_fully_compliant_and_unconstrained_is_not(run: Path):  # noqa: F811
    from storygen.train.sample import sample

    constrained = sample(run, "Once upon a time", max_new=80, seed=1, n=4, constrain_vocab=VOCAB_DIR)
    free = sample(run, "Once upon a time", max_new=80, seed=1, n=4)
    for text in constrained:
        body = text[len("Once upon a time") :]
        assert body.strip() and MATCHER.accepts(body), body
        assert compliance(text) == 1.0, text
    assert min(compliance(t) for t in free) < 1.0


def gen(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"OPENAI_API_KEY": "sk-x", "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "storygen", "generate", "--out", str(out), "--no-progress", "--n", "3", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def test_generate_constrained_locally_and_refused_where_it_cannot_be_enforced(run: Path, tmp_path: Path):  # noqa: F811
    r = gen(
        tmp_path / "a",
        "--backend",
        "local",
        "--model",
        str(run),
        "--constrain-vocab",
        "--set",
        "sampling.max_tokens=40",
    )
    assert r.returncode == 0, r.stderr
    stories = [json.loads(x) for x in (tmp_path / "a/stories.000.jsonl").read_text().splitlines()]
    assert len(stories) == 3 and all(MATCHER.accepts(s["text"]) for s in stories)
    assert stories[0]["sampling"]["constrain_vocab"] is True and "structured_outputs" not in stories[0]["sampling"]
    r = gen(tmp_path / "b", "--constrain-vocab", "--model", "gpt-4o-mini")
    assert r.returncode == 2 and "hosted OpenAI API cannot enforce it" in r.stderr and not (tmp_path / "b").exists()
    r = gen(tmp_path / "c", "--constrain-vocab", "--backend", "openai-batch", "--base-url", "http://127.0.0.1:9/v1")
    assert r.returncode == 2 and "cannot enforce it" in r.stderr


@pytest.mark.parametrize(("honor", "ok"), [(False, False), (True, True)])
def test_generate_proves_the_server_applies_the_constraint(tmp_path: Path, honor: bool, ok: bool):
    with RunningServer(honor_structured=honor) as server:
        r = gen(tmp_path / "o", "--constrain-vocab", "--base-url", server.base_url, "--model", "fake")
    if ok:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 2 and "ignored the vocabulary constraint" in r.stderr


def test_vocab_forms_command():
    r = subprocess.run([sys.executable, "-m", "storygen", "vocab", "forms"], capture_output=True, text=True)
    assert r.returncode == 0 and "contraction" in r.stdout and "total" in r.stdout


def test_hugging_face_models_decode_under_the_same_constraint(run: Path, tmp_path: Path):  # noqa: F811
    from storygen.evaluate.completions import Pupil
    from storygen.train.export import export
    from storygen.train.sample import vocab_constraint

    export(run, tmp_path / "hf")
    pupil = Pupil(tmp_path / "hf")
    assert pupil.kind == "huggingface"
    constraint = vocab_constraint(VOCAB_DIR, pupil.tokenizer, pupil.eot)
    for seed in range(4):
        text, _ = pupil.generate("Once upon a time", 60, 0.8, 50, seed, constraint)
        assert text.strip() and MATCHER.accepts(text), text
