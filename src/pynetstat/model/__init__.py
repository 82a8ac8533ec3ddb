"""Typed records, one module per subject: sockets (connection table), process (-b), stats (-s -e -r)."""
