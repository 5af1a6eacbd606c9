"""ACR's registry host names: recognised without azure-identity, which is imported only for an ACR registry."""

from __future__ import annotations

import re

# <registry>[-<hash>] (a domain name label scope) [.<region>.geo | .privatelink] .azurecr.io (.cn, .us in the
# sovereign clouds): login servers, geo-replicas' regional endpoints and private links (Microsoft Learn,
# "container registry endpoint reference"); data endpoints serve layer downloads only
ACR_HOST = re.compile(
    r"^[a-z0-9]{5,50}(?:-[a-z0-9]+)?(?:\.[a-z0-9-]+\.geo|\.privatelink)?\.azurecr\.(?P<cloud>io|cn|us)$"
)


def acr_host(host: str) -> re.Match[str] | None:
    return ACR_HOST.match(host.split(":")[0].lower())


def is_acr_host(host: str) -> bool:
    return acr_host(host) is not None
