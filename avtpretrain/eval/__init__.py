"""Evaluation: pure metric functions in ALPRO's conventions."""
