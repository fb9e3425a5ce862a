"""Vocabulary-constrained decoding on CPU: compliance (share of word tokens in the allowed set, as
`storygen validate` measures it) and tokens/s with and without the constraint, on the same prompts,
model and seeds, in the same run. Needs a trained run (RUN); on a GPU the vLLM path is measured by
`storygen generate --backend vllm --constrain-vocab` instead. Writes bench/results/constrain.json."""

from __future__ import annotations

import argparse
import json
import statistics
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
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=HERE / "results" / "constrain.json")
    a = p.parse_args()
    model, tok = load_run(a.run)
    eot = tok.convert_tokens_to_ids(tok.eos_token)
    lex = Lexicon(load_vocabulary(VOCAB_DIR))
    t0 = time.perf_counter()
    constraint = vocab_constraint(VOCAB_DIR, tok, eot)
    setup = time.perf_counter() - t0

    def run(c: object, seed0: int) -> tuple[float, list[float]]:
        tokens, seconds, scores = 0, 0.0, []
        for i, prompt in enumerate(PROMPTS):
            ids = tok.encode(prompt, add_special_tokens=False)
            t = time.perf_counter()
            out = generate(model, ids, a.max_new, 0.8, 50, eot, seed=seed0 + i, constraint=c)
            seconds += time.perf_counter() - t
            tokens += len(out) - len(ids)
            scores.append(analyse(Story(id=str(i), text=tok.decode(out[len(ids) :])), lex).scores["vocab_compliance"])
        return tokens / seconds, scores

    run(None, 1000)  # warm up torch; the constraint's mask cache starts cold
    speeds: dict[str, list[float]] = {"unconstrained": [], "constrained": []}
    scores: dict[str, list[float]] = {"unconstrained": [], "constrained": []}
    for r in range(a.repeats):  # alternate, so drift on a shared machine hits both alike
        for name, c in (("unconstrained", None), ("constrained", constraint)):
            tps, sc = run(c, 10 * r)
            speeds[name].append(tps)
            scores[name] += sc
    rows = {}
    for name in speeds:
        rows[name] = {
            "tokens_per_s_median": round(statistics.median(speeds[name]), 1),
            "tokens_per_s_runs": [round(x, 1) for x in speeds[name]],
            "mean_compliance": round(sum(scores[name]) / len(scores[name]), 4),
            "min_compliance": round(min(scores[name]), 4),
            "stories": len(scores[name]),
        }
        r = rows[name]
        print(f"{name:14s} {r['tokens_per_s_median']:8.1f} tokens/s (median of {a.repeats}), "
              f"compliance mean {r['mean_compliance']:.4f}, min {r['min_compliance']:.4f}")  # fmt: skip
    slow = 1 - rows["constrained"]["tokens_per_s_median"] / rows["unconstrained"]["tokens_per_s_median"]
    print(f"constraint setup {setup:.2f} s; throughput cost {slow:.1%} (cache cold at the first repeat)")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "constrain",
        "run": str(a.run),
        "setup_s": round(setup, 3),
        "rows": rows,
        "slowdown": round(slow, 4),
    }
    a.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
