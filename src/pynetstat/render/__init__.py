"""Renderers: text (the spec's layout, measured columns) and JSON. None of them reads the system."""
