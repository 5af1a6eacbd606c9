"""The built-in scanner: analyses each image locally (`tcs_registry.analysis`), no daemon, no root,
matches the packages against the offline OSV database and checks the config and history.

``trylast``: a scanner plugin that answers for the scanner the user chose goes first.
"""

from __future__ import annotations

from typing import Any

from ..analysis import secrets
from ..analysis.inventory import Analyser
from ..hookspecs import hookimpl
from ..http import RegistryClient
from ..models import ImageDescription, Registry, ScanResult
from ..vulns.checks import check_image

NAME = "builtin"


@hookimpl(trylast=True)
def submit_scan(
    registry: Registry, client: RegistryClient, image: ImageDescription, options: dict[str, Any]
) -> ScanResult | None:
    if options.get("scanner") not in (None, NAME):
        return None
    analyser = options.get("analyser") or Analyser(
        platforms=options.get("platforms"), secrets=options.get("secrets", True)
    )
    matcher = options.get("matcher")  # None without a vulnerability database: inventories and checks only
    inventories = tuple(analyser.analyse(client, image))
    vulnerabilities, violations = [], []
    for inventory in inventories:
        platform = str(inventory.platform or "")
        config = client.config(image.repository, inventory.config_digest) if inventory.config_digest else {}
        violations += check_image(config, inventory.packages, platform)
        violations += secrets.violations(inventory.secrets, inventory.layers, platform)
        if matcher is not None:
            vulnerabilities += matcher.inventory(inventory)
    return ScanResult(
        image=image,
        scanner=NAME,
        inventories=inventories,
        vulnerabilities=tuple(vulnerabilities),
        violations=tuple(violations),
    )
