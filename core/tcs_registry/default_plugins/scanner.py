"""The built-in scanner: analyses each image locally (`tcs_registry.analysis`), no daemon, no root.

``trylast``: a scanner plugin that answers for the scanner the user chose goes first.
"""

from __future__ import annotations

from typing import Any

from ..analysis.inventory import Analyser
from ..hookspecs import hookimpl
from ..http import RegistryClient
from ..models import ImageDescription, Registry, ScanResult

NAME = "builtin"


@hookimpl(trylast=True)
def submit_scan(
    registry: Registry, client: RegistryClient, image: ImageDescription, options: dict[str, Any]
) -> ScanResult | None:
    if options.get("scanner") not in (None, NAME):
        return None
    analyser = options.get("analyser") or Analyser(platforms=options.get("platforms"))
    return ScanResult(image=image, scanner=NAME, inventories=tuple(analyser.analyse(client, image)))
