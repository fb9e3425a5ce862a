"""storygen: TinyStories-style synthetic datasets and tiny language models trained on them."""

__version__ = "0.1.0"
