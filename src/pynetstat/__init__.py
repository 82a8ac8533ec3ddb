"""pynetstat: netstat, rebuilt in Python, reading the Linux kernel directly."""

__version__ = "0.1.0"
