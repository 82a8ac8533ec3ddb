"""The audit (issue 16): pure judges over the facts of ``linux/evidence.py``, and baselines."""
