"""Evaluation: the TinyStories "teacher grades the pupil" protocol (`storygen eval`), and the same
judge applied to dataset stories (`storygen judge`)."""
