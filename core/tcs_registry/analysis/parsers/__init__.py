"""Parsers from file contents to package records (plain dicts, stored in the layer cache as JSON).

A record has ``name`` and ``version`` and, where the format knows them, ``source_name``,
``source_version``, ``arch``, ``license``, ``epoch`` and ``files`` (paths the package owns that
matter to the analysis: language-package metadata the OS package manager installed).
"""
