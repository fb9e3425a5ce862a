"""Cleaning: validation (`storygen validate`) and deduplication (`storygen dedup`)."""
