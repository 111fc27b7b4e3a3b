"""Bloom, the web dashboard: Jinja templates, one static JS file, and pure formatting helpers."""
