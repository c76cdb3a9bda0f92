"""Scores and intervals: evaluating a candidate, statistics, shards."""
