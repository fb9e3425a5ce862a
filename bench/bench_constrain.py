"""Vocabulary-constrained decoding on CPU: compliance (share of word tokens in the allowed set, as
`storygen validate` measures it) and tokens/s with and without the constraint, on the same prompts,
model and seeds, in the same run. Needs a trained run (RUN); on a GPU the vLLM path is measured by
`storygen generate --backend vllm --constrain-vocab` instead. Writes bench/results/constrain.json."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROMPTS = ["Once upon a time", "One day, a little dog", "Lily and Tom went to the park", "The sun was hot, and",
           "Mom said,", "There was a big red ball", "A small bird", "Ben was sad because"]  # fmt: skip


def main() -> None:
    from storygen.clean.checks import analyse
    from storygen.clean.lexicon import Lexicon
    from storygen.paths import VOCAB_DIR
    from storygen.records import Story
    from storygen.train.sample import generate, load_run, vocab_constraint
    from storygen.vocab import load_vocabulary

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("run", type=Path)
    p.add_argument("--max-new", type=int, default=120)
    p.add_argument("--out", type=Path, default=HERE / "results" / "constrain.json")
    a = p.parse_args()
    model, tok = load_run(a.run)
    eot = tok.convert_tokens_to_ids(tok.eos_token)
    lex = Lexicon(load_vocabulary(VOCAB_DIR))
    t0 = time.perf_counter()
    constraint = vocab_constraint(VOCAB_DIR, tok, eot)
    setup = time.perf_counter() - t0
    rows = {}
    for name, c in (("unconstrained", None), ("constrained", constraint)):
        tokens, seconds, scores = 0, 0.0, []
        for i, prompt in enumerate(PROMPTS):
            ids = tok.encode(prompt, add_special_tokens=False)
            t = time.perf_counter()
            out = generate(model, ids, a.max_new, 0.8, 50, eot, seed=i, constraint=c)
            seconds += time.perf_counter() - t
            tokens += len(out) - len(ids)
            text = tok.decode(out[len(ids) :])
            scores.append(analyse(Story(id=str(i), text=text), lex).scores["vocab_compliance"])
        r = rows[name] = {
            "tokens_per_s": round(tokens / seconds, 1),
            "mean_compliance": round(sum(scores) / len(scores), 4),
            "min_compliance": round(min(scores), 4),
            "stories": len(scores),
        }
        compliance = f"compliance mean {r['mean_compliance']:.4f}, min {r['min_compliance']:.4f}"
        print(f"{name:14s} {r['tokens_per_s']:8.1f} tokens/s, {compliance}")
    slow = 1 - rows["constrained"]["tokens_per_s"] / rows["unconstrained"]["tokens_per_s"]
    print(f"constraint setup {setup:.2f} s (token pieces and automaton); throughput cost {slow:.1%}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"benchmark": "constrain", "run": str(a.run), "setup_s": round(setup, 3), "rows": rows,
                                 "slowdown": round(slow, 4)}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
