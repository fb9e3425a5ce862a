"""Deduplication stages: exact hashes -> MinHash signatures -> LSH candidates -> rapidfuzz
verification -> union-find clusters -> one story kept per cluster (the smallest id)."""
