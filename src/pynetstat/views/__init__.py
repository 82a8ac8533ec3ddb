"""Views: collect a snapshot from the kernel, render it as text or JSON, flatten its counters."""
