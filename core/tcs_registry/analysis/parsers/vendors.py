"""Software vendors' own packages, among a distribution's: by the address their packages name."""

from __future__ import annotations

import re

# The address domains of software vendors that publish packages from repositories of their own: such a
# package (docker-ce, nginx.org's nginx, NodeSource's nodejs) is not the distribution's, so the
# distribution's advisories are not its own (Debian's advisories for its nginx do not apply to nginx.org's),
# and the files it ships are not the distribution's (the npm NodeSource's nodejs bundles is npm's packages).
# A deb's Maintainer field, an rpm's Vendor, says which: each package of a vendor's repository names the vendor.
VENDORS = (
    "docker.com",  # download.docker.com: docker-ce, its plugins ("Docker <support@docker.com>")
    "containerd.io",  # download.docker.com too: containerd.io ("Containerd team <help@containerd.io>")
    "f5.com", "nginx.com",  # nginx.org/packages: nginx and its modules ("NGINX Packaging <nginx-packaging@f5.com>")
    "nodesource.com",  # deb.nodesource.com: nodejs, with npm bundled
    "mongodb.com",  # repo.mongodb.org
    "elastic.co",  # artifacts.elastic.co: elasticsearch, kibana, logstash, beats
    "microsoft.com",  # packages.microsoft.com: azure-cli, mssql-tools, and
    "dotnetfoundation.org",  # its .NET packages ("dotnetpackages@dotnetfoundation.org")
    "nvidia.com",  # NVIDIA's CUDA and container toolkit repositories
    "hashicorp.com",  # apt.releases.hashicorp.com
    "grafana.com",  # apt.grafana.com
    "influxdata.com", "influxdb.com",  # repos.influxdata.com
    "mariadb.org",  # MariaDB's own repository (Debian's mariadb is its MySQL team's)
)  # fmt: skip


_DOMAIN = re.compile(r"@([a-z0-9.-]+)")


def third_party(maintainer: str) -> bool:
    """Whether a package's Maintainer (deb) or Vendor (rpm) field has an address at one of the VENDORS'
    domains (in whatever form: ``Name <a@b>``, ``a@b (Name)``, several)."""
    domains = _DOMAIN.findall(maintainer.lower())
    return any(domain == vendor or domain.endswith("." + vendor) for domain in domains for vendor in VENDORS)
