"""The bundled trainer (extra `train`): tokenizer, pretokenized shards, a small Llama-shaped model,
training with exact resume, sampling, and export to Hugging Face format."""
