"""Evaluation: pure metric functions in ALPRO's conventions (metrics, clips, report, show), apart
from the loops that feed them (`loops/`)."""
