"""Vocabulary-constrained decoding on CPU: compliance (share of word tokens in the allowed set, as
`storygen validate` measures it) and tokens/s with and without the constraint, on the same prompts,
model and seeds, in the same run. Throughput is measured at equal lengths (end-of-text ignored,
every story runs to --max-new): the model has no KV cache, so a step's cost grows with the context,
and arms that stop at different lengths would otherwise differ for that reason alone. The
constraint's per-state cache starts cold; the first repeat's cost is reported apart. Needs a trained
run (RUN); on a GPU the vLLM path is measured by `storygen generate --backend vllm
--constrain-vocab` instead. Quality without a judge model: the mean NLL per token of each arm's
stories under the unconstrained model, with bootstrap 95% CIs (`storygen judge` on both outputs
gives judge grades where a judge model is reachable). Writes bench/results/constrain.json."""

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
    import torch

    from storygen.clean.checks import analyse
    from storygen.clean.lexicon import Lexicon
    from storygen.evaluate.report import mean_ci
    from storygen.paths import VOCAB_DIR
    from storygen.records import Story
    from storygen.train.sample import generate, load_run, vocab_constraint
    from storygen.vocab import load_vocabulary

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("run", type=Path)
    p.add_argument("--max-new", type=int, default=120)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", type=Path, default=HERE / "results" / "constrain.json")
    a = p.parse_args()
    model, tok = load_run(a.run)
    eot = tok.convert_tokens_to_ids(tok.eos_token)
    lex = Lexicon(load_vocabulary(VOCAB_DIR))
    t0 = time.perf_counter()
    constraint = vocab_constraint(VOCAB_DIR, tok, eot)
    setup = time.perf_counter() - t0

    arms = {"unconstrained": None, "constrained": constraint}

    def one(c: object, prompt: str, seed: int, stop: int | None) -> tuple[int, float, list[int], list[int]]:
        ids = tok.encode(prompt, add_special_tokens=False)
        t = time.perf_counter()
        out = generate(model, ids, a.max_new, 0.8, 50, stop, seed=seed, constraint=c)
        return len(out) - len(ids), time.perf_counter() - t, ids, out

    def compliance(ids: list[int], out: list[int]) -> float:
        return analyse(Story(id="s", text=tok.decode(out[len(ids) :])), lex).scores["vocab_compliance"]

    @torch.no_grad()
    def nll(ids: list[int], out: list[int]) -> float:
        """Mean negative log-likelihood per generated token under the unconstrained model: how far
        the mask pushed the text from what the model would write (no judge model is needed)."""
        x = torch.tensor([out[-model.cfg.context :]])
        logp = torch.log_softmax(model(x)[0, :-1].float(), -1)
        new = min(len(out) - len(ids), x.shape[1] - 1)
        return float(-logp[-new:].gather(1, x[0, -new:, None]).mean()) if new else float("nan")

    for prompt in PROMPTS:  # warm up torch
        one(None, prompt, 1000, None)
    speeds: dict[str, list[float]] = {name: [] for name in arms}
    scores: dict[str, list[float]] = {name: [] for name in arms}
    nlls: dict[str, list[float]] = {name: [] for name in arms}
    for r in range(a.repeats):
        tokens, seconds = dict.fromkeys(arms, 0), dict.fromkeys(arms, 0.0)
        for i, prompt in enumerate(PROMPTS):  # alternate story by story: drift hits both arms alike
            for name, c in arms.items():
                n, dt, _, _ = one(c, prompt, 10 * r + i, None)
                tokens[name] += n
                seconds[name] += dt
                _, _, ids, out = one(c, prompt, 10 * r + i, eot)
                scores[name].append(compliance(ids, out))
                nlls[name].append(nll(ids, out))
        for name in arms:
            speeds[name].append(tokens[name] / seconds[name])
    cold = 1 - speeds["constrained"][0] / speeds["unconstrained"][0]
    rows = {}
    for name in speeds:
        rows[name] = {
            "tokens_per_s_median": round(statistics.median(speeds[name]), 1),
            "tokens_per_s_runs": [round(x, 1) for x in speeds[name]],
            "mean_compliance": round(sum(scores[name]) / len(scores[name]), 4),
            "min_compliance": round(min(scores[name]), 4),
            "stories": len(scores[name]),
            "nll_per_token": mean_ci([x for x in nlls[name] if x == x]),
        }
        r = rows[name]
        nl = r["nll_per_token"]
        print(f"{name:14s} {r['tokens_per_s_median']:8.1f} tokens/s (median of {a.repeats}), "
              f"compliance mean {r['mean_compliance']:.4f}, min {r['min_compliance']:.4f}, "
              f"NLL/token {nl['mean']:.3f} (95% CI {nl['ci_low']:.3f}-{nl['ci_high']:.3f})")  # fmt: skip
    # paired by repeat: each constrained repeat against the unconstrained one just before it
    pairs = zip(speeds["unconstrained"][1:], speeds["constrained"][1:], strict=True)
    slow = statistics.median(1 - c / u for u, c in pairs)
    print(f"constraint setup {setup:.2f} s; throughput cost {slow:.1%} "
          f"(median of paired warm repeats; {cold:.1%} in the first, cold one)")  # fmt: skip
    a.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "constrain",
        "run": str(a.run),
        "setup_s": round(setup, 3),
        "rows": rows,
        "slowdown": round(slow, 4),
        "slowdown_cold_first_repeat": round(cold, 4),
    }
    a.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
