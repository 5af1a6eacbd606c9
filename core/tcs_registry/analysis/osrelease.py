"""Which distribution an image is, from its release files, as an OSV ecosystem name."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, replace

_CODENAMES = {"buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14"}
_REDHAT = re.compile(r"^(.*?)\s+release\s+(\d[\d.]*)")


# os-release IDs of SUSE Linux Enterprise products (SLE BCI images too), as SUSE's OSV records name them
_SUSE_PRODUCTS = {
    "sles": "Server",
    "sles_sap": "Server for SAP Applications",
    "sle_hpc": "High Performance Computing",
    "sled": "Desktop",
}


@dataclass(frozen=True)
class OperatingSystem:
    id: str  # os-release ID: debian, ubuntu, alpine, rhel, ...
    version: str = ""  # VERSION_ID
    codename: str = ""
    name: str = ""  # PRETTY_NAME
    cpe: str = ""
    pro: bool = False  # Ubuntu Pro's ESM (esm-infra or esm-apps) enabled: its fixes are the image's to have

    @property
    def ecosystem(self) -> str:
        """The OSV ecosystem of the distribution's own packages ('' when OSV has none)."""
        major = self.version.split(".")[0]
        if self.id == "debian":
            release = major or _CODENAMES.get(self.codename, "")
            return f"Debian:{release}" if release else "Debian"
        if self.id == "ubuntu":
            lts = self.version.endswith(".04") and major.isdigit() and int(major) % 2 == 0
            if lts and self.pro:
                return f"Ubuntu:Pro:{self.version}:LTS"  # (its advisories and the standard ones: matching)
            return f"Ubuntu:{self.version}:LTS" if lts else f"Ubuntu:{self.version}"
        if self.id == "alpine":
            return "Alpine:v" + ".".join(self.version.split(".")[:2])
        if self.id in ("wolfi", "chainguard"):
            return self.id.capitalize()
        if self.id == "rhel":
            cpe = self.cpe.removeprefix("cpe:/o:redhat:")
            return f"Red Hat:{cpe}" if cpe != self.cpe else f"Red Hat:enterprise_linux:{major}"
        named = {
            "almalinux": "AlmaLinux",
            "rocky": "Rocky Linux",
            "mariner": "Azure Linux",  # (CBL-Mariner 2.0's advisories are Azure Linux's: AZL-*, "Azure Linux:2")
            "azurelinux": "Azure Linux",
            "mageia": "Mageia",
        }
        if self.id in named:
            return f"{named[self.id]}:{major}"
        if self.id == "photon":
            return f"Photon OS:{self.version}"
        if self.id == "openEuler":  # "openEuler 22.03 (LTS-SP3)": openEuler:22.03-LTS-SP3
            stream = re.search(r"\(([A-Za-z0-9-]+)\)", self.name)
            return f"openEuler:{self.version}" + (f"-{stream.group(1)}" if stream else "")
        if self.id in _SUSE_PRODUCTS:  # the product as SUSE's advisories name it: ...Server 15 SP5
            release, _, service_pack = self.version.partition(".")
            if release.isdigit() and int(release) >= 16:  # SLE 16 names its minor releases: Server 16.0
                return f"SUSE:Linux Enterprise {_SUSE_PRODUCTS[self.id]} {self.version}"
            pack = f" SP{service_pack}" if service_pack not in ("", "0") else ""
            return f"SUSE:Linux Enterprise {_SUSE_PRODUCTS[self.id]} {release}{pack}"
        if self.id == "sle-micro":
            return f"SUSE:Linux Enterprise Micro {self.version}"
        if self.id == "opensuse-leap":
            return f"openSUSE:Leap {self.version}"
        if self.id == "opensuse-tumbleweed":
            return "openSUSE:Tumbleweed"
        return ""

    @property
    def purl_distro(self) -> str:
        """The purl ``distro`` qualifier: ``debian-12``, ``alpine-3.19``."""
        return f"{self.id}-{self.version or self.codename}".rstrip("-")


def parse_os_release(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            parts = shlex.split(value, comments=True)
        except ValueError:
            parts = [value.strip("\"'")]
        values[key.strip()] = " ".join(parts)
    return values


def _esm(status: str) -> bool:
    """Whether Ubuntu Pro's status file says ESM is on (its services esm-infra or esm-apps enabled), as
    Trivy's ubuntu ESM analyser reads it."""
    try:
        services = json.loads(status).get("services") if status else None
    except (ValueError, AttributeError):
        return False
    return isinstance(services, list) and any(
        isinstance(s, dict) and s.get("name") in ("esm-infra", "esm-apps") and s.get("status") == "enabled"
        for s in services
    )


def detect(files: dict[str, str]) -> OperatingSystem | None:
    """``files`` maps release-file paths of the squashed image to their text."""
    text = files.get("etc/os-release") or files.get("usr/lib/os-release")
    if text:
        v = parse_os_release(text)
        if v.get("ID"):
            found = OperatingSystem(
                id=v["ID"].lower() if v["ID"] != "openEuler" else v["ID"],
                version=v.get("VERSION_ID", ""),
                codename=v.get("VERSION_CODENAME", ""),
                name=v.get("PRETTY_NAME", ""),
                cpe=v.get("CPE_NAME", ""),
            )
            if found.id == "ubuntu" and _esm(files.get("var/lib/ubuntu-advantage/status.json", "")):
                found = replace(found, pro=True)
            if found.id == "debian" and not found.version and files.get("etc/debian_version"):
                version = files["etc/debian_version"].strip()  # testing and sid have no VERSION_ID
                if version[:1].isdigit():
                    found = OperatingSystem(found.id, version.split(".")[0], found.codename, found.name, found.cpe)
            return found
    if files.get("etc/alpine-release"):
        return OperatingSystem("alpine", files["etc/alpine-release"].strip())
    lsb = parse_os_release(files.get("etc/lsb-release", ""))
    if lsb.get("DISTRIB_ID", "").lower() == "ubuntu":
        return OperatingSystem("ubuntu", lsb.get("DISTRIB_RELEASE", ""), lsb.get("DISTRIB_CODENAME", ""))
    for path, default in (
        ("etc/centos-release", "centos"),
        ("etc/rocky-release", "rocky"),
        ("etc/almalinux-release", "almalinux"),
        ("etc/oracle-release", "ol"),
        ("etc/fedora-release", "fedora"),
        ("etc/redhat-release", "rhel"),
    ):
        match = _REDHAT.match(files.get(path, "").strip())
        if match:
            name = match.group(1).lower()
            for key in ("centos", "rocky", "alma", "oracle", "fedora"):
                if key in name:
                    default = {"alma": "almalinux", "oracle": "ol"}.get(key, key)
            return OperatingSystem(default, match.group(2))
    debian = files.get("etc/debian_version", "").strip()
    if debian:
        return OperatingSystem("debian", debian.split(".")[0] if debian[:1].isdigit() else "", debian.split("/")[0])
    return None
