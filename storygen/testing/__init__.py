"""Stand-ins for remote services, used by the tests, the benchmarks and offline dry runs."""
