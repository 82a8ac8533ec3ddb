"""The attack suite: tests that give pynetstat a hostile machine and check that it keeps working.

See docs/hardening.md for what each module checks and what it found.
"""
