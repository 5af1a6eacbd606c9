"""The plugin author's kit, a pytest plugin: real CNCF registries on loopback (anonymous, htpasswd,
token, TLS) over seeded storage, images to push, and the CLI run in-process.

Installed with ``pip install 'tcs-registry[testing]'``, it loads by itself (entry point ``pytest11``);
the project's own tests use the same fixtures. The Debian package ``docker-registry`` must be
installed. See docs/plugins.md, "Testing a plugin".
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tcs_registry import redaction
from tcs_registry.cli import main
from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.datasets import Expected, cache_dir, seed_big, seed_standard
from tcs_registry.testing.facade import Facade, StoredRegistry
from tcs_registry.testing.images import Pusher
from tcs_registry.testing.postgres import PostgresServer
from tcs_registry.testing.registry import RegistryServer, htpasswd

if TYPE_CHECKING:
    import trustme

    from tcs_registry.testing.tokens import TokenServer

USERS = {"alice": "s3cret-Pa55word", "robot$ci": "r0bot-t0ken-value"}
BIG_DATASET_VERSION = "1"


@dataclass
class Seeded:
    storage: Path
    expected: list[Expected]


def _seed(storage: Path, workdir: Path, seeder) -> list[Expected]:
    with RegistryServer(storage, workdir) as server:
        return seeder(Pusher(server.url))


def seed(work: Path, name: str, seeder: Callable[[Pusher], list[Expected]]) -> Seeded:
    """Push a dataset into a registry storage of its own under ``work`` (for a session fixture)."""
    storage = work / f"{name}-storage"
    return Seeded(storage, _seed(storage, work, seeder))


@contextmanager
def serving(seeded: Seeded, work: Path, facade_class: Callable[..., Facade], *args: Any) -> Iterator[Facade]:
    """The real registry over ``seeded`` and a vendor facade in front of it, for the block's duration."""
    with (
        RegistryServer(seeded.storage, work) as registry,
        facade_class(registry.url, StoredRegistry(seeded.storage), *args) as facade,
    ):
        yield facade


@pytest.fixture(scope="session")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("registries")


@pytest.fixture(scope="session")
def standard(work) -> Seeded:
    storage = work / "standard"
    return Seeded(storage, _seed(storage, work, seed_standard))


@dataclass
class DebianLayer:
    """A real Debian 12 root as one gzip layer, and what dpkg-query said inside it."""

    blob: Path
    diff_id: str
    installed: list[tuple[str, str, str, str, str]]  # package, version, source, source version, arch


@pytest.fixture(scope="session")
def debian_layer() -> DebianLayer:
    """Built by scripts/build-debian-image.sh (the set-up runs it; it needs root and Debian's mirror)."""
    directory = cache_dir() / "debian-bookworm-minbase-v1"
    if not (directory / ".complete").exists():
        pytest.fail(f"no Debian test image in {directory}: run scripts/build-debian-image.sh (scripts/setup.sh does)")
    rows = [tuple(line.split("\t")) for line in (directory / "dpkg-query.tsv").read_text().splitlines()]
    return DebianLayer(directory / "layer.tar.gz", (directory / "diff_id").read_text().strip(), rows)


GO_PROGRAM = {
    "go.mod": "module example.com/hello\n\ngo 1.18\n\nrequire example.com/greet v1.4.2\n",
    "main.go": 'package main\n\nimport "example.com/greet"\n\nfunc main() { println(greet.Hello()) }\n',
    "vendor/modules.txt": "# example.com/greet v1.4.2\n## explicit\nexample.com/greet\n",
    "vendor/example.com/greet/greet.go": 'package greet\n\nfunc Hello() string { return "hello" }\n',
}


def build_go(
    source: Path,
    go: Path | None = None,
    goarch: str | None = None,
    ldflags: str = "",
    files: dict[str, str] | None = None,
) -> Path:
    """GO_PROGRAM (and ``files``) built offline in ``source`` by the toolchain of ``go`` (the one on the
    PATH if None), for ``goarch`` (Go cross-compiles by itself: 386 for ELF32, mips and ppc64 for
    big-endian); ``-linkmode=external`` in ``ldflags`` links with the system's linker (cgo on)."""
    for name, text in {**GO_PROGRAM, **(files or {})}.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    env = {**os.environ, "GOFLAGS": "-mod=vendor", "GOPROXY": "off", "GOCACHE": str(source / ".cache")}
    env["CGO_ENABLED"] = "1" if "-linkmode=external" in ldflags else "0"
    env.update({"GOROOT": str(go.parent.parent)} if go else {})
    env.update({"GOARCH": goarch} if goarch else {})
    output = source / f"hello-{goarch or 'native'}"
    command = [str(go or "go"), "build", "-trimpath", f"-ldflags={ldflags}", "-o", str(output), "."]
    subprocess.run(command, cwd=source, env=env, check=True, capture_output=True)
    return output


@pytest.fixture(scope="session")
def go_binary(tmp_path_factory) -> Path:
    """A real Go binary with one (vendored) dependency, built offline by the Go toolchain (golang-go)."""
    if shutil.which("go") is None:
        pytest.fail("the Go toolchain is not installed: run scripts/setup.sh (Debian package golang-go)")
    return build_go(tmp_path_factory.mktemp("go"))


@pytest.fixture(scope="session")
def old_go() -> Path:
    """The ``go`` command of Go 1.15 (Debian 11's, cached by scripts/fetch-go1.15.sh): its binaries' build
    info holds pointers, as every Go before 1.18 wrote it."""
    go = cache_dir() / "go1.15" / "usr" / "lib" / "go-1.15" / "bin" / "go"
    if not go.exists():
        pytest.fail(f"Go 1.15 is not in {go.parent}: run scripts/setup.sh (scripts/fetch-go1.15.sh)")
    return go


@pytest.fixture(scope="session")
def big(work) -> Seeded:
    """150 repositories and 1,000 tags; the storage is cached outside the checkout between runs."""
    storage = cache_dir() / f"big-v{BIG_DATASET_VERSION}"
    marker = storage / ".complete"
    storage.parent.mkdir(parents=True, exist_ok=True)
    with open(storage.parent / f"{storage.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist: one worker seeds it, the others wait for it
        if not marker.exists():
            shutil.rmtree(storage, ignore_errors=True)
            _seed(storage, work, seed_big)
            marker.write_text("ok\n")
    from tcs_registry.testing.datasets import big_catalog

    return Seeded(storage, list(big_catalog()))


@pytest.fixture(scope="session")
def big_registry(big, work) -> Iterator[RegistryServer]:
    with RegistryServer(big.storage, work, catalog_max_entries=40) as server:  # catalog pages of 31
        yield server


@pytest.fixture(scope="session")
def anonymous_registry(standard, work) -> Iterator[RegistryServer]:
    with RegistryServer(standard.storage, work) as server:
        yield server


@pytest.fixture(scope="session")
def basic_registry(standard, work) -> Iterator[RegistryServer]:
    auth = {"htpasswd": {"realm": "tcs-basic", "path": str(htpasswd(work / "htpasswd", USERS))}}
    with RegistryServer(standard.storage, work, auth=auth) as server:
        yield server


@pytest.fixture(scope="session")
def token_server(work) -> Iterator[TokenServer]:
    from tcs_registry.testing.tokens import TokenServer  # needs pyjwt and cryptography (the testing extra)

    server = TokenServer(work / "tokens", USERS).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry(standard, work, token_server) -> Iterator[RegistryServer]:
    with RegistryServer(standard.storage, work, auth=token_server.registry_auth()) as server:
        yield server


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    import trustme

    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca, work) -> Path:
    path = work / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def tls_registry(standard, work, ca) -> Iterator[RegistryServer]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = work / "server.pem", work / "server.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(cert_path), append=True)
    cert.private_key_pem.write_to_path(str(key_path))
    with RegistryServer(standard.storage, work, tls=(cert_path, key_path)) as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster on loopback for the session (Debian's postgresql package);
    ``postgres.database()`` gives a fresh store URL."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def fresh_registry(tmp_path) -> Iterator[RegistryServer]:
    """An empty anonymous registry of the test's own, for tests that push."""
    with RegistryServer(tmp_path / "storage", tmp_path / "work") as server:
        yield server


@pytest.fixture
def pusher(fresh_registry) -> Pusher:
    """Pushes real images to ``fresh_registry``: ``pusher.image(...)``, ``pusher.index(...)``, or the
    helpers ``push_tags`` and ``push_index`` of ``tcs_registry.testing.datasets``."""
    return Pusher(fresh_registry.url)


# the user's own TCS_* variables when the tests started (those a fixture sets later are the test's)
_USER_VARIABLES = [name for name in os.environ if name.startswith("TCS_")]


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """No user config, docker config or TCS_* variable of the user's leaks in; the test runs in its own
    directory. `tcs` uses it; a project may make it autouse in its conftest (this one does)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    for name in _USER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    monkeypatch.chdir(run_dir)
    # the secrets the test's runs learn are its own: a process runs one command, a test session many (a
    # password "nope" of one test would hide a file nope.zip in another's error line)
    monkeypatch.setattr(redaction, "SECRETS", redaction.Secrets())
    return run_dir


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def messages(self) -> list[str]:
        """Log lines without their timestamps: 'level<TAB>message'."""
        return ["\t".join(line.split("\t")[1:]) for line in self.err.splitlines() if line.count("\t") >= 2]

    @property
    def infos(self) -> list[str]:
        """The info lines only (what a run did, without its warnings)."""
        return [m for m in self.messages if m.startswith("info\t")]


@pytest.fixture
def state_dir(tmp_path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def out_dir(tmp_path) -> Path:
    return tmp_path / "out"


KIT_OSV = Path(__file__).parent / "osv"  # real OSV records (sources: tests/fixtures/SOURCES.md)


@pytest.fixture
def vulnerability_database(tcs, state_dir) -> Path:
    """The run's state directory with the kit's OSV records imported: a scan of
    ``vulnerable.push_debian9``'s image then finds exactly ``vulnerable.DEBIAN9_FINDINGS``."""
    result = tcs("db", "import", str(KIT_OSV), f"--state-dir={state_dir}")
    assert result.code == 0, result.err
    return state_dir


@pytest.fixture
def plugin_manager():
    return get_plugin_manager(load_entrypoints=False)


@pytest.fixture
def tcs(capsys, state_dir, out_dir, plugin_manager, isolated):
    """Run the real CLI in-process: tcs(*args, stdin=None) -> Result. State and output stay in tmp."""

    def run(*args: str, stdin: str | None = None, isolate: bool = True, pm=None) -> Result:
        argv = list(args)
        if isolate and argv and argv[0] == "registry":
            argv += [f"--state-dir={state_dir}", f"--output-dir={out_dir}"]
        capsys.readouterr()
        if stdin is not None:
            import io
            import sys

            old = sys.stdin
            sys.stdin = io.StringIO(stdin)
        try:
            code = main(argv, plugin_manager=pm or plugin_manager)
        finally:
            if stdin is not None:
                sys.stdin = old
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
