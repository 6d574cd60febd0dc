"""Reusable types and pure logic (no Dagster instances live here)."""
