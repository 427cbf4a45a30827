"""Evaluation: question sets, scoring of answers against gold clauses and points, reports, benchmarks."""
