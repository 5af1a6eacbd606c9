"""Vulnerabilities and violations: the offline OSV database, version orders, matching, config checks."""
