"""Start the real CNCF distribution registry (``docker-registry``) on a free loopback port."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import requests
import urllib3

REGISTRY_BINARY = "docker-registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def htpasswd(path: Path, users: dict[str, str]) -> Path:
    import bcrypt  # the testing extra; imported here so the kit loads without it

    lines = [
        f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}"
        for user, password in users.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


class RegistryServer:
    """One registry process. ``auth`` is the registry config's ``auth`` section (None: anonymous);
    ``blob_cache``: the in-memory blob descriptor cache that the registry's packaged configuration turns
    on (Debian's /etc/docker/registry/config.yml), for benchmarks; tests go without it, so that what they
    delete from storage is gone."""

    def __init__(
        self,
        storage: Path,
        workdir: Path,
        *,
        auth: dict[str, Any] | None = None,
        tls: tuple[Path, Path] | None = None,
        catalog_max_entries: int | None = None,
        blob_cache: bool = False,
    ) -> None:
        if shutil.which(REGISTRY_BINARY) is None:
            raise RuntimeError(f"{REGISTRY_BINARY} is not installed (Debian package docker-registry)")
        self.storage = storage
        self.workdir = workdir
        self.auth = auth
        self.tls = tls
        self.catalog_max_entries = catalog_max_entries
        self.blob_cache = blob_cache
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def config(self) -> dict[str, Any]:
        http: dict[str, Any] = {"addr": f"127.0.0.1:{self.port}", "secret": "tcs-registry-tests"}
        if self.tls:
            http["tls"] = {"certificate": str(self.tls[0]), "key": str(self.tls[1])}
        config: dict[str, Any] = {
            "version": "0.1",
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http,
        }
        if self.blob_cache:
            config["storage"]["cache"] = {"blobdescriptor": "inmemory"}
        if self.auth:
            config["auth"] = self.auth
        if self.catalog_max_entries:
            config["catalog"] = {"maxentries": self.catalog_max_entries}
        return config

    def start(self, timeout: float = 20.0) -> RegistryServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):  # the free port may be taken between choosing and binding it
            self.port = free_port()
            config_path = self.workdir / f"registry-{self.port}.json"  # JSON is valid YAML
            config_path.write_text(json.dumps(self.config(), indent=2))
            log_path = self.workdir / f"registry-{self.port}.log"
            with log_path.open("wb") as log_file:
                self.process = subprocess.Popen(
                    [REGISTRY_BINARY, "serve", str(config_path)], stdout=log_file, stderr=subprocess.STDOUT
                )
            if self._wait(timeout):
                return self
            self.stop()
        raise RuntimeError(f"registry did not start; see {log_path}: {log_path.read_text()[-2000:]}")

    def _wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                    requests.get(f"{self.url}/v2/", timeout=1, verify=False)  # noqa: S501 - only "is it up"
                return True
            except requests.RequestException:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
