"""Typed records, one module per subject: sockets (connection table), process (-b), stats (-s -e -r),
changes (what changed between two passes)."""

# The version of every JSON record pynetstat writes (docs/json.md, docs/interval.md): one number
# for the whole project, raised when a field changes meaning or goes away.
SCHEMA_VERSION = 1
