# storygen — every stage is a target; variables can be overridden: make generate N=1000 MODEL=gpt-4o-mini
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STORYGEN := $(BIN)/storygen

N       ?= 100
SEED    ?= 0
CONFIG  ?=
CONFIG_ARG := $(if $(CONFIG),--config $(CONFIG),)

.PHONY: help setup test lint prompts generate clean-data dataset push train sample export eval experiment-curriculum experiment-salt experiment-grow serve bench

help:            ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup:           ## create .venv and install storygen with the train and dev extras
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[train,dev]'

test:            ## run the test suite
	$(BIN)/python -m pytest

lint:            ## ruff check + format check
	$(BIN)/ruff check storygen tests $(wildcard bench/*.py)
	$(BIN)/ruff format --check storygen tests $(wildcard bench/*.py)

prompts:         ## print N prompts as JSON lines (SEED, CONFIG)
	$(STORYGEN) prompts --n $(N) --seed $(SEED) $(CONFIG_ARG)

bench:           ## run the benchmarks (JSON in bench/results/)
	$(BIN)/python bench/bench_generate.py
	$(BIN)/python bench/bench_clean.py
	$(BIN)/python bench/bench_train.py
	@if [ -f $(RUN)/ckpt.pt ]; then $(BIN)/python bench/bench_constrain.py $(RUN); \
	 else echo "bench_constrain skipped: no trained model in RUN=$(RUN) (make train first)"; fi

MODEL   ?= gpt-4o-mini
BACKEND ?= openai
OUT     ?= runs/stories
BASE_URL ?=
BASE_URL_ARG := $(if $(BASE_URL),--base-url $(BASE_URL),)

generate:        ## generate N stories into OUT (MODEL, BACKEND, BASE_URL, SEED, CONFIG); resumable
	$(STORYGEN) generate --n $(N) --seed $(SEED) --model $(MODEL) --backend $(BACKEND) $(BASE_URL_ARG) --out $(OUT) $(CONFIG_ARG)

VALIDATED ?= runs/validated
CLEAN   ?= runs/clean

clean-data:      ## validate then dedup the stories in OUT (-> VALIDATED, CLEAN)
	$(STORYGEN) validate $(OUT) --out $(VALIDATED) $(CONFIG_ARG)
	$(STORYGEN) dedup $(VALIDATED) --out $(CLEAN) $(CONFIG_ARG)

DATASET ?= runs/dataset
REPO    ?=

dataset:         ## build a Hugging Face dataset folder from CLEAN into DATASET
	$(STORYGEN) build $(CLEAN) --out $(DATASET) --overwrite $(if $(REPO),--repo $(REPO),) $(CONFIG_ARG)

push:            ## upload DATASET to the Hub as REPO (HF_TOKEN or cached login)
	@test -n "$(REPO)" || (echo "set REPO=org/name" >&2; exit 2)
	$(STORYGEN) push $(DATASET) --repo $(REPO)

TRAIN_CONFIG ?= storygen/train/configs/1m.yaml
RUN     ?= runs/model

train:           ## train a model on DATASET into RUN (TRAIN_CONFIG: tiny, 1m, 8m, 21m, 8layer); resumable
	$(STORYGEN) train --data $(DATASET) --out $(RUN) --config $(TRAIN_CONFIG)

sample:          ## print a story from the model in RUN
	$(STORYGEN) sample $(RUN)

export:          ## write RUN as a Hugging Face Llama model into RUN-hf
	$(STORYGEN) export $(RUN) --out $(RUN)-hf

JUDGE_MODEL ?= gpt-4o
EVAL    ?= runs/eval

eval:            ## grade RUN's story endings with JUDGE_MODEL (OPENAI_API_KEY or JUDGE_BASE_URL)
	$(STORYGEN) eval $(RUN) --out $(EVAL) --judge-model $(JUDGE_MODEL) $(if $(JUDGE_BASE_URL),--judge-base-url $(JUDGE_BASE_URL),) $(CONFIG_ARG)

SEEDS   ?= 3
EXPERIMENT ?= runs/experiments

experiment-curriculum: ## shuffled vs reading-age curriculum vs anti, SEEDS seeds, on DATASET (TRAIN_CONFIG)
	$(STORYGEN) experiment curriculum --data $(DATASET) --config $(TRAIN_CONFIG) --seeds $(SEEDS) --out $(EXPERIMENT)/curriculum

TEACHER ?= runs/teacher

experiment-salt: ## SALT: TEACHER (a small trained run) distils into TRAIN_CONFIG's model, on DATASET
	$(STORYGEN) experiment salt --teacher $(TEACHER) --data $(DATASET) --config $(TRAIN_CONFIG) --seeds $(SEEDS) --out $(EXPERIMENT)/salt

experiment-grow: ## grow one block into TRAIN_CONFIG's depth vs that model from scratch, equal FLOPs
	$(STORYGEN) experiment grow --data $(DATASET) --config $(TRAIN_CONFIG) --seeds $(SEEDS) --out $(EXPERIMENT)/grow

serve:           ## run a local vLLM server for MODEL (GPU machine, vllm extra)
	$(STORYGEN) serve --model $(MODEL) $(CONFIG_ARG)
