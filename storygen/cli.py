"""The storygen command line: one subcommand per stage, each a thin shell over library functions.

Every subcommand that reads the run config takes --config FILE and --set KEY=VALUE (repeatable),
plus a few named flags that are shortcuts for common keys. Errors are one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from storygen import __version__
from storygen.config import RunConfig, load_config, parse_override
from storygen.errors import StorygenError
from storygen.paths import PROJECT_ROOT

PACKAGE_CONFIGS = PROJECT_ROOT / "storygen" / "train" / "configs"

Handler = Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------- shared options


def add_config_args(p: argparse.ArgumentParser, shortcuts: dict[str, str]) -> None:
    """--config, --set, and one flag per entry of `shortcuts` (flag name -> dotted config key)."""
    p.add_argument("--config", type=Path, help="run config, YAML or TOML (default: built-in defaults)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override any config key, e.g. --set sampling.temperature=0.8 (repeatable)",
    )  # fmt: skip
    p.set_defaults(_shortcuts=shortcuts)
    kinds: dict[str, tuple[type, str]] = {
        "seed": (int, "seed of the prompt stream (config: seed; default 0)"),
        "n": (int, "number of prompts (config: n; default 100)"),
        "template": (str, "prompt template name, a file prompts/NAME.j2 (default: default)"),
        "vocab-dir": (Path, "vocabulary folder (default: the bundled vocab/)"),
        "model": (str, "model name (config: generate.model)"),
        "backend": (str, "openai | openai-batch | vllm | local (config: generate.backend; default openai)"),
        "base-url": (str, "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"),
        "concurrency": (int, "requests in flight (config: generate.concurrency; default 64)"),
        "workers": (int, "client processes (config: generate.workers; default 1)"),
        "port": (int, "port of the local vLLM server (config: generate.vllm.port; default 8000)"),
        "judge-backend": (str, "the judge's backend (config: judge.backend; default openai)"),
        "judge-model": (str, "the judge model (config: judge.model; default gpt-4o)"),
        "judge-base-url": (str, "the judge's OpenAI-compatible endpoint (config: judge.base_url)"),
    }
    for flag in shortcuts:
        typ, help_text = kinds[flag]
        p.add_argument(f"--{flag}", type=typ, default=None, help=help_text)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    overrides: dict[str, Any] = dict(parse_override(item) for item in args.overrides)
    for flag, key in args._shortcuts.items():
        value = getattr(args, flag.replace("-", "_"))
        if value is not None:
            overrides[key] = str(value) if isinstance(value, Path) else value
    return load_config(args.config, overrides)


PROMPT_SHORTCUTS = {
    "seed": "seed",
    "n": "n",
    "template": "prompts.template",
    "vocab-dir": "prompts.vocab_dir",
}


# ---------------------------------------------------------------- vocab


def cmd_vocab_check(args: argparse.Namespace) -> int:
    from storygen.features import load_features
    from storygen.vocab import FEATURES_FILE, check_vocabulary

    report = check_vocabulary(args.vocab_dir)
    features = load_features(args.vocab_dir / FEATURES_FILE)
    for name, count in report.counts.items():
        print(f"{name:<13} {count:>5}")
    print(f"{'content words':<13} {report.content_total:>5}  (nouns + verbs + adjectives)")
    print(f"{'features':<13} {len(features.features):>5}  ({', '.join(features.features)})")
    for name, axis in features.axes.items():
        print(f"{'axis ' + name:<13} {len(axis.values):>5}  values, p={axis.probability}")
    for pair, words in report.shared.items():
        print(f"in both {pair}: {len(words)} words (allowed: a word can be two parts of speech)")
    for problem in report.problems:
        print(problem, file=sys.stderr)
    if report.problems:
        print(f"storygen: error: {len(report.problems)} vocabulary problem(s), listed above", file=sys.stderr)
        return 2
    print("vocabulary ok")
    return 0


def cmd_vocab_forms(args: argparse.Namespace) -> int:
    from storygen.constrain.forms import allowed_forms
    from storygen.constrain.pattern import regex
    from storygen.vocab import load_vocabulary

    forms = allowed_forms(load_vocabulary(args.vocab_dir))
    if args.regex:
        union = set().union(*forms.values())
        print(regex(union))
        return 0
    for name, words in forms.items():
        if args.list:
            for w in sorted(words):
                print(f"{name}\t{w}")
        else:
            print(f"{name:<12} {len(words):>6}  e.g. {', '.join(sorted(words)[:6])}")
    if not args.list:
        print(f"{'total':<12} {len(set().union(*forms.values())):>6}")
    return 0


# ---------------------------------------------------------------- prompts


def cmd_prompts(args: argparse.Namespace) -> int:
    from storygen.prompts import PromptFactory

    config = config_from_args(args)
    factory = PromptFactory(config)
    out = sys.stdout
    for prompt in factory.iter_prompts(config.n):
        out.write(prompt.model_dump_json() + "\n")
    return 0


# ---------------------------------------------------------------- generate

GENERATE_SHORTCUTS = {
    **PROMPT_SHORTCUTS,
    "model": "generate.model",
    "backend": "generate.backend",
    "base-url": "generate.base_url",
    "concurrency": "generate.concurrency",
    "workers": "generate.workers",
}


def cmd_generate(args: argparse.Namespace) -> int:
    from storygen.generate.run import generate

    if args.constrain:
        args.overrides.append("generate.constrain_vocab=true")
    config = config_from_args(args)
    summary = generate(config, args.out, show_progress=not args.no_progress)
    stored, session = summary["stored"], summary["session"]
    print(
        f"{stored['stories']}/{summary['target_stories']} stories in {args.out} "
        f"(this run: {session['stories']} new, {session['requests']} requests, {session['retries']} retries, "
        f"{session['stories_per_s']}/s); estimated cost ${summary['cost_usd']:.4f}; summary in {args.out}/run.json"
    )
    if summary["missing"]:
        reasons = ", ".join(f"{k}: {v}" for k, v in session["failures"].items()) or "interrupted"
        print(
            f"storygen: {summary['missing']} stories missing ({reasons}); run the same command again to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from storygen.generate.serve import serve

    return serve(config_from_args(args))


# ---------------------------------------------------------------- clean


def cmd_validate(args: argparse.Namespace) -> int:
    from storygen.clean.io import expand_inputs
    from storygen.clean.validate import validate

    config = config_from_args(args)
    r = validate(expand_inputs(args.inputs), args.out, config, args.skip_bad, args.workers, not args.no_progress)
    top = ", ".join(f"{k}: {v}" for k, v in list(r["reasons"].items())[:6]) or "none"
    print(f"{r['accepted']}/{r['total']} accepted ({r['stories_per_s']:.0f} stories/s); rejected by {top}; "
          f"report in {args.out}/report.json")  # fmt: skip
    return 0


def cmd_dedup(args: argparse.Namespace) -> int:
    from storygen.clean.dedup.run import dedup
    from storygen.clean.io import expand_inputs

    config = config_from_args(args)
    r = dedup(expand_inputs(args.inputs), args.out, config, args.skip_bad, args.workers, not args.no_progress)
    print(
        f"{r['kept']}/{r['total']} kept: {r['exact_removed']} exact and {r['near_removed']} near duplicates "
        f"removed in {r['clusters']} clusters ({r['stories_per_s']:.0f} stories/s); report in {args.out}/report.json"
    )
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from storygen.clean.io import expand_inputs
    from storygen.dataset.build import build

    config = config_from_args(args)
    r = build(expand_inputs(args.inputs), args.out, config, args.overwrite, not args.no_progress, args.repo)
    splits = ", ".join(f"{k} {v:,}" for k, v in sorted(r["splits"].items()))
    print(f"{r['stories']:,} stories ({splits}) in {args.out}; card in {args.out}/README.md")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from storygen.dataset.push import push

    return push(args.dir, args.repo, private=args.private, revision=args.revision, dry_run=args.dry_run)


# ---------------------------------------------------------------- train


def cmd_tokenizer_train(args: argparse.Namespace) -> int:
    from storygen.train.data import load_text_dataset
    from storygen.train.tokenizer import train_tokenizer

    ds = load_text_dataset(args.data)
    tok = train_tokenizer(iter(ds["train"]["text"]), args.vocab_size, args.out)
    print(f"tokenizer with {len(tok):,} tokens in {args.out} (load with transformers.AutoTokenizer)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from storygen.train.trainer import train

    config = config_from_args(args)
    r = train(args.data, args.out, config, args.stop_after, not args.no_progress)
    val = f"{r['best_val_loss']:.4f}" if r["best_val_loss"] is not None else "n/a"
    print(f"step {r['step']}: train loss {r['train_loss']:.4f}, best val loss {val}, "
          f"{r['params']:,} parameters; log in {args.out}/log.jsonl, curve in {args.out}/loss.png")  # fmt: skip
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from storygen.paths import VOCAB_DIR
    from storygen.train.sample import sample

    vocab = (args.vocab_dir or VOCAB_DIR) if args.constrain_vocab else None
    for text in sample(args.run, args.prompt, args.max_new, args.temperature, args.top_k, args.seed, args.n, vocab):
        print(text)
        print("---")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from storygen.train.export import export

    out = export(args.run, args.out)
    print(f"LlamaForCausalLM in {out}: AutoModelForCausalLM.from_pretrained({str(out)!r}), or `vllm serve {out}`")
    return 0


# ---------------------------------------------------------------- evaluate

JUDGE_SHORTCUTS = {"judge-backend": "judge.backend", "judge-model": "judge.model", "judge-base-url": "judge.base_url"}


def cmd_eval(args: argparse.Namespace) -> int:
    from storygen.evaluate.run import evaluate

    config = config_from_args(args)
    r = evaluate(args.model, args.out, config, args.data, not args.no_progress)
    d = r["grades"]["dimensions"]
    scores = ", ".join(f"{k} {v['mean']:.2f}" for k, v in d.items())
    ppl = f"; perplexity {r['perplexity']:.2f}" if r["perplexity"] else ""
    print(f"{r['grades']['graded']}/{r['items']} graded: {scores}{ppl}; report in {args.out}/report.md")
    return 0


def cmd_judge(args: argparse.Namespace) -> int:
    from storygen.clean.io import expand_inputs
    from storygen.evaluate.run import judge_stories

    config = config_from_args(args)
    r = judge_stories(expand_inputs(args.inputs), args.out, config, args.skip_bad, not args.no_progress)
    q = r["judge_quality"]
    print(f"{r['scored']}/{r['stories']} stories scored (mean {q['mean']:.3f}; by {r['methods']}); "
          f"scores in {args.out}/judged.jsonl")  # fmt: skip
    return 0


def cmd_experiment_curriculum(args: argparse.Namespace) -> int:
    from storygen.experiments.curriculum import run_curriculum

    config = config_from_args(args)
    r = run_curriculum(args.data, args.out, config, args.seeds, not args.no_progress)
    for name, e in r["summary"]["effects"].items():
        f = e["final_loss"]
        print(f"{name}: final loss {f['mean']:+.4f} (95% CI {f['ci_low']:+.4f} to {f['ci_high']:+.4f})")
    print(f"report in {args.out}/report/report.md")
    return 0


def cmd_experiment_salt(args: argparse.Namespace) -> int:
    from storygen.experiments.salt import run_salt

    r = run_salt(args.teacher, args.data, args.out, config_from_args(args), args.seeds, not args.no_progress)
    _print_effects(r, args.out)
    return 0


def cmd_experiment_grow(args: argparse.Namespace) -> int:
    from storygen.experiments.grow import run_grow

    r = run_grow(args.data, args.out, config_from_args(args), args.seeds, not args.no_progress)
    _print_effects(r, args.out)
    return 0


def _print_effects(r: dict, out: Path) -> None:
    for name, e in r["summary"]["effects"].items():
        f = e["final_loss"]
        print(f"{name}: final loss {f['mean']:+.4f} (95% CI {f['ci_low']:+.4f} to {f['ci_high']:+.4f})")
    print(f"report in {out}/report/report.md")


def add_clean_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", type=Path, metavar="IN", help="JSON-lines files (or folders of *.jsonl)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--skip-bad", action="store_true", help="count and skip malformed lines instead of stopping")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_args(p, {"vocab-dir": "prompts.vocab_dir"})


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storygen",
        description="Make TinyStories-style synthetic datasets and train tiny language models on them.",
    )
    parser.add_argument("--version", action="version", version=f"storygen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("vocab", help="inspect and check the vocabulary files")
    vsub = p.add_subparsers(dest="vocab_command", required=True, metavar="ACTION")
    pc = vsub.add_parser("check", help="validate vocab/ (format, duplicates, order, inflections) and print counts")
    from storygen.paths import VOCAB_DIR

    pc.add_argument("--vocab-dir", type=Path, default=VOCAB_DIR, help="vocabulary folder (default: bundled vocab/)")
    pc.set_defaults(func=cmd_vocab_check)
    pf = vsub.add_parser("forms", help="the allowed word forms (inflections, capitals, possessives, contractions)")
    pf.add_argument("--vocab-dir", type=Path, default=VOCAB_DIR, help="vocabulary folder (default: bundled vocab/)")
    pf.add_argument("--list", action="store_true", help="print every form (category TAB form)")
    pf.add_argument("--regex", action="store_true", help="print the character-level regex of the constraint")
    pf.set_defaults(func=cmd_vocab_forms)

    p = sub.add_parser(
        "prompts",
        help="print prompt records as JSON lines",
        description="Sample words and features and render prompts; same arguments -> byte-identical output.",
    )
    add_config_args(p, PROMPT_SHORTCUTS)
    p.set_defaults(func=cmd_prompts)

    p = sub.add_parser(
        "generate",
        help="turn prompts into stories through a backend (resumable)",
        description="Generate stories into --out. Re-running the same command continues where it stopped.",
    )
    add_config_args(p, GENERATE_SHORTCUTS)
    p.add_argument("--out", type=Path, required=True, help="run directory (stories.*.jsonl, run.json, ...)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--constrain-vocab", dest="constrain", action="store_const", const=True, default=None,
                   help="decode only allowed words (vllm, local, or --base-url of vllm serve)")  # fmt: skip
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser(
        "validate",
        help="check stories: required words, vocabulary, features, truncation, refusals, encoding",
        description="Write accepted.jsonl, rejected.jsonl (with reasons) and report.json to --out.",
    )
    add_clean_args(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "dedup",
        help="remove exact and near-duplicate stories (MinHash + LSH, verified with rapidfuzz)",
        description="Write stories.jsonl (kept), removed.jsonl (with the story each duplicates) and report.json.",
    )
    add_clean_args(p)
    p.set_defaults(func=cmd_dedup)

    p = sub.add_parser(
        "build",
        help="turn stories into a Hugging Face dataset folder (Parquet shards, card, plots, txt)",
        description="Build a dataset with `default` (text) and `instruct` configs, train/validation splits.",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="IN", help="JSON-lines files (or stage folders)")
    p.add_argument("--out", type=Path, required=True, help="dataset folder to create")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    p.add_argument("--repo", default=None, help="ORG/NAME to show in the card's loading example")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_args(p, {"vocab-dir": "prompts.vocab_dir"})
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "push",
        help="upload a built dataset folder to the Hugging Face Hub (resumable)",
        description="Create the dataset repo if needed and upload DIR in commits of bounded size; files already "
        "on the Hub are skipped, so a failed push resumes. Token from HF_TOKEN or the cached login.",
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="a folder made by `storygen build`")
    p.add_argument("--repo", required=True, help="ORG/NAME of the dataset repository")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--revision", default=None, help="branch to push to (default: main)")
    p.add_argument("--dry-run", action="store_true", help="list what would be uploaded; send nothing")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("tokenizer", help="train a byte-level BPE tokenizer")
    tsub = p.add_subparsers(dest="tokenizer_command", required=True, metavar="ACTION")
    pt = tsub.add_parser("train", help="train on DATA's text column; saves in Hugging Face format")
    pt.add_argument("data", help="a `storygen build` folder, a .parquet/.jsonl/.txt file, or a Hub id")
    pt.add_argument("--vocab-size", type=int, default=4096, help="tokens, <|endoftext|> included (default 4096)")
    pt.add_argument("--out", type=Path, required=True, help="tokenizer folder")
    pt.set_defaults(func=cmd_tokenizer_train)

    p = sub.add_parser(
        "train",
        help="train a small transformer on a text dataset (resumable)",
        description="Tokenizer, pretokenized shards and training into --out; the same command resumes. "
        f"Named configs: {', '.join(sorted(x.stem for x in (PACKAGE_CONFIGS).glob('*.yaml')))} "
        "(--config storygen/train/configs/NAME.yaml).",
    )
    p.add_argument("--data", required=True, help="a `storygen build` folder, a .parquet/.jsonl/.txt file, or a Hub id")
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--stop-after", type=int, default=None, help="checkpoint and stop after this step (resume later)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_args(p, {})
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="continue a prompt with a trained run")
    p.add_argument("run", type=Path, metavar="RUN", help="a run folder of `storygen train`")
    p.add_argument("--prompt", default="Once upon a time", help='text to continue (default "Once upon a time")')
    p.add_argument("--max-new", type=int, default=200, help="most new tokens (default 200)")
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy (default 0.8)")
    p.add_argument("--top-k", type=int, default=50, help="sample among the k likeliest tokens (default 50)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--n", type=int, default=1, help="samples (default 1)")
    p.add_argument("--constrain-vocab", action="store_true", help="decode only words allowed by vocab/")
    p.add_argument("--vocab-dir", type=Path, default=None, help="vocabulary for --constrain-vocab (default: bundled)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("export", help="write a run as a Hugging Face LlamaForCausalLM folder")
    p.add_argument("run", type=Path, metavar="RUN", help="a run folder of `storygen train`")
    p.add_argument("--out", type=Path, required=True, help="folder for the Hugging Face model")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "eval",
        help="grade a trained model's story endings with a judge model (TinyStories protocol)",
        description="Complete story beginnings with MODEL (a storygen run or a Hugging Face folder), have the judge "
        "grade grammar, creativity, consistency and plot (1-10) and the writer's age group, and measure "
        "held-out perplexity. Writes report.json, report.md, grades.png and completions.jsonl.",
    )
    p.add_argument("model", type=Path, metavar="RUN_OR_HF_DIR", help="a run folder or an exported model folder")
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.add_argument("--data", default=None, help="held-out stories (cut mid-sentence as beginnings; and perplexity)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_args(p, {**JUDGE_SHORTCUTS, "n": "eval.n"})
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "judge",
        help="score dataset stories with the judge (Ask-LLM: P(yes) from logprobs, else the 1-10 grade)",
        description="Write judged.jsonl (each story with scores.judge_quality in 0..1) and report.json.",
    )
    add_clean_args(p)
    for flag, key in JUDGE_SHORTCUTS.items():
        p.add_argument(f"--{flag}", default=None, help=f"config: {key}")
    p.set_defaults(func=cmd_judge, _shortcuts={"vocab-dir": "prompts.vocab_dir", **JUDGE_SHORTCUTS})

    p = sub.add_parser("experiment", help="training experiments: curriculum, salt, grow")
    esub = p.add_subparsers(dest="experiment_command", required=True, metavar="EXPERIMENT")
    pe = esub.add_parser(
        "curriculum",
        help="shuffled vs reading-age curriculum vs anti-curriculum, equal tokens, several seeds",
        description="Train each arm from the same initial weights per seed; report final loss and AUC with 95% CIs, "
        "tokens to reach the baseline's loss, per-bucket curves and how much the curriculum distorted the data.",
    )
    pe.add_argument("--data", required=True, help="any dataset with a `text` column")
    pe.add_argument("--out", type=Path, required=True, help="experiment folder (report/ inside)")
    pe.add_argument("--seeds", type=int, default=None, help="seeds (config: experiment.seeds; default 3)")
    pe.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_args(pe, {})
    pe.set_defaults(func=cmd_experiment_curriculum)

    for name, func, text in (
        ("salt", cmd_experiment_salt, "a small trained teacher distils into the model in phase 1 (and picks data)"),
        ("grow", cmd_experiment_grow, "one block trained, then grown to train.n_layer, vs the deep model from scratch"),
    ):
        pe = esub.add_parser(name, help=text, description=text + "; equal steps (salt) or FLOPs (grow), several seeds.")
        if name == "salt":
            pe.add_argument("--teacher", type=Path, required=True, help="a `storygen train` run (same tokenizer)")
        pe.add_argument("--data", required=True, help="any dataset with a `text` column")
        pe.add_argument("--out", type=Path, required=True, help="experiment folder (report/ inside)")
        pe.add_argument("--seeds", type=int, default=None, help="seeds (config: experiment.seeds; default 3)")
        pe.add_argument("--no-progress", action="store_true", help="no progress bar")
        add_config_args(pe, {})
        pe.set_defaults(func=func)

    p = sub.add_parser(
        "serve",
        help="run a local vLLM OpenAI-compatible server (GPU, vllm extra)",
        description="Start `vllm serve` with the config's generate.vllm settings, wait until it is healthy, "
        "print its base URL, and stop it cleanly on Ctrl-C.",
    )
    add_config_args(p, {"model": "generate.model", "port": "generate.vllm.port"})
    p.set_defaults(func=cmd_serve)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler = args.func
    try:
        return func(args)
    except StorygenError as e:
        print(f"storygen: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("storygen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except OSError as e:  # a path that cannot be read or written: one line, not a traceback
        if e.filename is None:
            raise
        print(f"storygen: error: {e.filename}: {e.strerror}; check the path and its permissions", file=sys.stderr)
        return 2


__all__ = ["build_parser", "main"]
