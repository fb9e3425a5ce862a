"""Datasets: cleaned stories -> sharded Hugging Face datasets with a card (`storygen build`),
and the push to the Hub (`storygen push`)."""
