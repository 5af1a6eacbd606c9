"""The values the command line's options take, in a module of their own: ``--help`` and shell completion
import it without the registry client, the store or the scanner."""

MODES = ("scan", "dry-run")
FORMATS = ("table", "json", "sarif", "cyclonedx")  # of scan results; a dry run always writes its CSV
FAIL_ON = ("low", "medium", "high", "critical")
