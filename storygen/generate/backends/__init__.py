"""Backends turn prompts into completions: `openai` (any OpenAI-compatible endpoint, per request),
`openai-batch` (the OpenAI Batch API) and `vllm` (an in-process engine on a GPU)."""
