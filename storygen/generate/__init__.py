"""Generation: prompts -> stories through a backend, crash-safe and accounted."""
