"""Plugins built into the core."""
