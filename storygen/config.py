"""The run config: one typed object for every stage, read from YAML or TOML, overridable per key.

    storygen prompts --config run.yaml --set prompts.features.max_count=2 --seed 3

Unknown keys and bad values are refused with a one-line error naming the key. Relative paths in a
file are taken relative to that file; on the command line, relative to the working directory. The
resolved config is saved beside every output a stage writes (`save_config`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from storygen.errors import StorygenError
from storygen.features import format_validation_error
from storygen.paths import PROMPTS_DIR, VOCAB_DIR


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeatureConfig(Strict):
    min_count: int = Field(1, ge=0, description="fewest features per prompt (0 allows none)")
    max_count: int = Field(3, ge=0, description="most features per prompt; count is uniform in [min, max]")
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="per-feature weight overrides (>= 0; 0 disables); others keep features.yaml's",
    )
    axes: dict[str, float] = Field(
        default_factory=dict,
        description="per-axis probability overrides in [0, 1]; others keep features.yaml's",
    )

    @model_validator(mode="after")
    def _check(self) -> FeatureConfig:
        if self.min_count > self.max_count:
            raise ValueError(f"min_count ({self.min_count}) must be <= max_count ({self.max_count})")
        for name, w in self.weights.items():
            if w < 0:
                raise ValueError(f"weights.{name} must be >= 0, got {w}")
        for name, p in self.axes.items():
            if not 0 <= p <= 1:
                raise ValueError(f"axes.{name} must be in [0, 1], got {p}")
        return self


class PromptConfig(Strict):
    template: str = Field("default", description="prompt template: prompts_dir/<template>.j2")
    vocab_dir: Path = Field(VOCAB_DIR, description="folder with the word files and features.yaml")
    prompts_dir: Path = Field(PROMPTS_DIR, description="folder with the Jinja2 templates")
    features: FeatureConfig = Field(default_factory=FeatureConfig)


class SamplingConfig(Strict):
    temperature: float = Field(1.0, ge=0, le=2, description="0 = greedy")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling; 1 disables")
    max_tokens: int = Field(800, ge=1, description="completion token limit per story")
    seed: int | None = Field(None, description="if set, request i is sent seed + i; None sends no seed")
    n: int = Field(1, ge=1, le=16, description="stories per prompt (choices per request)")


class Price(Strict):
    input: float = Field(ge=0, description="USD per million prompt tokens")
    output: float = Field(ge=0, description="USD per million completion tokens")


class BatchConfig(Strict):
    completion_window: Literal["24h"] = "24h"
    poll_interval_s: float = Field(30.0, gt=0, description="seconds between status polls")
    max_requests: int = Field(50_000, ge=1, description="requests per batch file (OpenAI's limit: 50,000)")
    max_bytes: int = Field(190 * 2**20, ge=1024, description="bytes per batch file (OpenAI's limit: 200 MB)")
    discount: float = Field(0.5, gt=0, le=1, description="batch price as a share of the normal price")


class VllmConfig(Strict):
    tensor_parallel_size: int = Field(1, ge=1)
    max_model_len: int | None = Field(None, ge=16, description="None = the model's own")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    dtype: str = "auto"
    port: int = Field(8000, ge=1, le=65535, description="port for `storygen serve`")
    structured_backend: str = Field("auto", description="vLLM structured-output backend: auto, xgrammar, guidance, ...")
    host: str = "127.0.0.1"
    chunk_size: int = Field(8192, ge=1, description="prompts handed to the engine at once (stored after each)")
    startup_timeout_s: float = Field(1800.0, gt=0, description="how long `storygen serve` waits for /health")


class GenerateConfig(Strict):
    backend: Literal["openai", "openai-batch", "vllm", "local"] = Field(
        "openai",
        description="openai | openai-batch | vllm (in-process, GPU) | local (a storygen run or HF folder, CPU)",
    )
    constrain_vocab: bool = Field(
        False, description="decode only allowed words (vllm backends via structured outputs; local via a token mask)"
    )
    model: str = Field("gpt-4o-mini", min_length=1)
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint; None = the OpenAI API")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable that holds the API key")
    concurrency: int = Field(64, ge=1, description="requests in flight at once")
    requests_per_minute: float | None = Field(None, gt=0, description="None = unlimited")
    tokens_per_minute: float | None = Field(None, gt=0, description="None = unlimited")
    max_attempts: int = Field(6, ge=1, description="tries per prompt before it is recorded as failed")
    timeout_s: float = Field(120.0, gt=0, description="per-request timeout")
    workers: int = Field(1, ge=1, le=64, description="client processes sharing the prompts")
    batch: BatchConfig = Field(default_factory=BatchConfig)
    vllm: VllmConfig = Field(default_factory=VllmConfig)
    prices: dict[str, Price] = Field(
        default_factory=lambda: {
            "gpt-4o-mini": Price(input=0.15, output=0.60),
            "gpt-4o": Price(input=2.50, output=10.0),
            "gpt-4.1-mini": Price(input=0.40, output=1.60),
            "gpt-4.1-nano": Price(input=0.10, output=0.40),
        },
        description="USD per million tokens by model; models not listed cost 0",
    )


class CleanConfig(Strict):
    min_words: int = Field(60, ge=0, description="fewer words -> too_short")
    max_words: int = Field(1000, ge=1, description="more words -> too_long")
    max_paragraphs: int = Field(20, ge=1, description="more paragraphs -> too_many_paragraphs")
    vocab_threshold: float = Field(
        0.85, ge=0, le=1, description="least share of word tokens in the allowed vocabulary; 0 disables"
    )
    min_function_share: float = Field(
        0.2, ge=0, le=1, description="least share of closed-class words (the, and, she, ...) to count as English"
    )
    oov_report: int = Field(100, ge=0, description="how many of the most frequent out-of-vocabulary words to rank")
    min_judge_quality: float | None = Field(
        None, ge=0, le=1, description="reject stories whose scores.judge_quality (from `storygen judge`) is lower"
    )


class DedupConfig(Strict):
    shingle_size: int = Field(3, ge=1, le=16, description="words per shingle")
    num_perm: int = Field(128, ge=8, le=1024, description="MinHash permutations")
    bands: int = Field(25, ge=1, description="LSH bands; bands * rows must be <= num_perm")
    rows: int = Field(5, ge=1, description="rows per band; candidate threshold ~ (1/bands)^(1/rows)")
    verify_threshold: float = Field(
        0.85, gt=0, le=1, description="rapidfuzz similarity (0-1) a candidate pair needs to count as duplicate"
    )
    min_estimate: float = Field(
        0.2, ge=0, le=1, description="candidates whose signatures agree on less than this share skip rapidfuzz"
    )
    seed: int = Field(1, description="seed of the MinHash permutations")

    @model_validator(mode="after")
    def _check(self) -> DedupConfig:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows ({self.bands * self.rows}) must be <= num_perm ({self.num_perm})")
        return self


class DatasetConfig(Strict):
    validation_share: float = Field(0.05, ge=0, lt=1, description="share of stories in the validation split")
    shard_rows: int = Field(100_000, ge=1, description="rows per Parquet shard (bounds shard size)")
    pretty_name: str = Field("storygen stories", description="dataset title on the card")
    license: str = Field("cdla-sharing-1.0", description="license id for the card's metadata")
    eot: str = Field("<|endoftext|>", description="separator between stories in the plain-text export")


class TrainConfig(Strict):
    tokenizer: Path | None = Field(None, description="a trained tokenizer folder; None trains one on the data")
    vocab_size: int = Field(4096, ge=257, le=65535, description="BPE vocabulary size when training a tokenizer")
    n_layer: int = Field(1, ge=1, description="transformer blocks")
    d_model: int = Field(256, ge=8, description="model width")
    n_head: int = Field(8, ge=1, description="attention heads (d_model / n_head must be even)")
    context: int = Field(256, ge=8, description="tokens per training sequence")
    ffn_hidden: int | None = Field(None, ge=1, description="SwiGLU hidden size; None = 8/3 d_model, rounded up to 64")
    batch_size: int = Field(32, ge=1, description="sequences per micro-batch")
    grad_accum: int = Field(1, ge=1, description="micro-batches per optimizer step")
    max_steps: int = Field(2000, ge=1, description="optimizer steps")
    lr: float = Field(1e-3, gt=0, description="peak learning rate")
    min_lr: float = Field(1e-4, ge=0, description="learning rate at the end of the cosine decay")
    warmup_steps: int = Field(100, ge=0, description="linear warmup steps")
    weight_decay: float = Field(0.1, ge=0)
    beta1: float = Field(0.9, gt=0, lt=1)
    beta2: float = Field(0.95, gt=0, lt=1)
    grad_clip: float = Field(1.0, ge=0, description="max gradient norm; 0 disables")
    eval_interval: int = Field(200, ge=1, description="steps between validation losses")
    eval_batches: int = Field(20, ge=1, description="micro-batches per validation loss")
    ckpt_interval: int = Field(500, ge=1, description="steps between checkpoints (one more at the end)")
    log_interval: int = Field(10, ge=1, description="steps between log lines")
    seed: int = Field(1337, description="seeds weights and the data order")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    dtype: Literal["auto", "float32", "bfloat16"] = Field("auto", description="auto: bf16 autocast on GPU, fp32 on CPU")
    compile: bool = Field(False, description="torch.compile the model")
    loss_chunk: int = Field(4096, ge=64, description="rows per chunk of the fused linear + cross-entropy")
    val_share: float = Field(0.05, gt=0, lt=1, description="held-out share when the data has no validation split")


class EvalConfig(Strict):
    n: int = Field(200, ge=1, description="story beginnings to complete and grade")
    beginnings: Path | None = Field(None, description="one beginning per line; None: prompts/eval/beginnings.txt, "
                                    "or held-out stories cut mid-sentence when --data is given")  # fmt: skip
    max_new: int = Field(200, ge=1, description="tokens the model under test may add")
    temperature: float = Field(0.8, ge=0, description="sampling temperature of the model under test (0 = greedy)")
    top_k: int | None = Field(50, ge=1, description="top-k of the model under test; None disables")
    seed: int = Field(0, description="seeds sampling and the choice of held-out stories")
    parse_attempts: int = Field(3, ge=1, description="asks per item before an unreadable grade is counted")
    structured: bool = Field(True, description="ask the judge for JSON via response_format (OpenAI API)")
    examples: int = Field(5, ge=0, description="completions shown with their grades in the report")
    perplexity_batches: int = Field(20, ge=1, description="validation batches for the model's loss")


class CurriculumConfig(Strict):
    schedule: Literal["linear", "step", "root"] = Field("linear", description="how the reading-age ceiling rises")
    start: float = Field(0.2, gt=0, le=1, description="starting ceiling: share of the easiest stories allowed")
    ramp: float = Field(0.5, gt=0, le=1, description="share of training by which the ceiling reaches the top")
    stages: int = Field(4, ge=1, description="steps of the `step` schedule")
    anti: bool = Field(True, description="also train the anti-curriculum control (hardest first)")


class SaltConfig(Strict):
    alpha: float = Field(0.5, ge=0, le=1, description="weight of cross-entropy in phase 1 (1 = no distillation)")
    temperature: float = Field(2.0, gt=0, description="softening temperature T of teacher and student")
    phase: float = Field(0.3, gt=0, le=1, description="share of the steps that use the teacher")
    band_low: float = Field(
        0.3, ge=0, lt=1, description="selection keeps sequences whose teacher loss is above this quantile"
    )
    band_high: float = Field(0.7, gt=0, le=1, description="... and below this quantile of a candidate pool")


class GrowConfig(Strict):
    small_fraction: float = Field(0.3, gt=0, lt=1, description="share of the FLOP budget spent on the one-block model")
    position: Literal["top", "middle", "bottom"] = Field("top", description="where the new blocks go")


class ExperimentConfig(Strict):
    seeds: int = Field(3, ge=1, description="seeds per arm (initial weights and data order)")
    eval_every: int = Field(25, ge=1, description="steps between validation losses")
    eval_batches: int = Field(4, ge=1, description="batches in each validation set")
    val_share: float = Field(0.1, gt=0, lt=1, description="held-out share of the stories")
    curriculum: CurriculumConfig = Field(default_factory=CurriculumConfig)
    salt: SaltConfig = Field(default_factory=SaltConfig)
    grow: GrowConfig = Field(default_factory=GrowConfig)


class RunConfig(Strict):
    seed: int = Field(0, description="seed of the prompt stream")
    n: int = Field(100, ge=1, description="number of prompts")
    prompts: PromptConfig = Field(default_factory=PromptConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    clean: CleanConfig = Field(default_factory=CleanConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    judge: GenerateConfig = Field(
        default_factory=lambda: GenerateConfig(model="gpt-4o", concurrency=16),
        description="the judge's backend, model, endpoint and limits (same fields as generate)",
    )
    eval: EvalConfig = Field(default_factory=EvalConfig)
    experiment: ExperimentConfig = Field(default_factory=ExperimentConfig)


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise StorygenError(f"{path}: config file not found")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise StorygenError(f"{path}: config must be .yaml, .yml or .toml")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        raise StorygenError(f"{path}: not valid {path.suffix[1:].upper()}: {str(e).splitlines()[0]}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise StorygenError(f"{path}: config must be a mapping of keys to values")
    return data


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    prompts = data.get("prompts")
    if isinstance(prompts, dict):
        for key in ("vocab_dir", "prompts_dir"):
            if isinstance(prompts.get(key), str) and not Path(prompts[key]).is_absolute():
                prompts[key] = str(base / prompts[key])
    train = data.get("train")
    if (
        isinstance(train, dict)
        and isinstance(train.get("tokenizer"), str)
        and not Path(train["tokenizer"]).is_absolute()
    ):
        train["tokenizer"] = str(base / train["tokenizer"])


def parse_override(item: str) -> tuple[str, Any]:
    """'a.b=value' -> ('a.b', parsed value); the value is read as a YAML scalar (3 -> int, x -> str)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise StorygenError(f"--set {item!r}: expected KEY=VALUE, e.g. --set generate.concurrency=128")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Defaults <- config file <- overrides (dotted keys). Errors name the file or the override."""
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_file(path)
        _resolve_paths(data, path.resolve().parent)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    for key, value in overrides.items():
        _set_dotted(data, key, value)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        loc = ".".join(str(p) for p in e.errors()[0]["loc"])
        source = "command line" if any(loc == k or loc.startswith(k + ".") for k in overrides) else str(path)
        raise StorygenError(f"{source}: {format_validation_error(e)}") from e


def save_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as YAML (it holds no secrets: keys live in the environment)."""
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
