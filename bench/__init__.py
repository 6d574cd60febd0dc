"""`make bench`: the segmentwerk benchmark (see docs/benchmarks.md and issue 7)."""
