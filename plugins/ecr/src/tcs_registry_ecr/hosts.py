"""ECR's registry host names: recognised without the AWS SDK, which is imported only for an ECR registry."""

from __future__ import annotations

import re
from dataclasses import dataclass

# awslabs/amazon-ecr-credential-helper ecr-login/api/client.go (ExtractRegistry)
ECR_HOST = re.compile(
    r"^(?P<account>\d{12})\.dkr[.-]ecr(?P<fips>-fips)?\.(?P<region>[a-zA-Z0-9][a-zA-Z0-9-_]*)\."
    r"(amazonaws\.(com(\.cn)?|eu)|on\.(aws|amazonwebservices\.com\.cn)|sc2s\.sgov\.gov|c2s\.ic\.gov|"
    r"cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$"
)


@dataclass(frozen=True)
class EcrHost:
    account: str
    region: str
    fips: bool
    dual_stack: bool = False  # <account>.dkr-ecr.<region>.on.aws: IPv6 too, and so is its API (ecr.<region>.api.aws)


def parse_host(host: str) -> EcrHost | None:
    match = ECR_HOST.match(host.split(":")[0].lower())
    if not match:
        return None
    dual_stack = match.group(0).split(".")[1].startswith("dkr-ecr") and ".on." in match.group(0)
    return EcrHost(match.group("account"), match.group("region"), bool(match.group("fips")), dual_stack)
