"""Judging a candidate: gates, the reference, the holdout ledger, plans, promotion."""
