"""Amazon ECR for tests: moto's server mode for the ECR API (ThreadedMotoServer on loopback), and
the real CNCF registry, behind htpasswd with ECR's registry user, for the V2 API.

moto's get_authorization_token answers base64("AWS:<account>-auth-token") (moto/ecr/responses.py);
the registry takes exactly that user and password. Images are pushed to the registry, then put
into moto through the real ECR API (put_image with the manifest bytes and their digest, as ECR
stores them), so both sides agree byte for byte.
"""

from __future__ import annotations

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tcs_registry.testing.datasets import Expected, push_index, push_tags
from tcs_registry.testing.fixtures import seed
from tcs_registry.testing.images import Pusher, make_layer
from tcs_registry.testing.registry import RegistryServer, htpasswd
from tcs_registry.testing.vulnerable import push_debian9

ACCOUNT = "123456789012"
REGION = "eu-west-1"
HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


def seed_ecr(pusher: Pusher) -> list[Expected]:
    base = [make_layer({"etc/os-release": b"ID=ecr-test\n"})]
    api = [("1.0", "2024-11-01T00:00:00Z"), ("1.1", "2024-11-02T00:00:00Z"), ("latest", "2024-11-02T00:00:00Z")]
    expected = push_tags(pusher, "team/api", api, base)
    pusher.image("team/api", None, created="2024-01-01T00:00:00Z", layers=base)  # untagged: not reported
    return [
        *expected,
        push_index(
            pusher, "team/web", "2.0", [("amd64", "2024-11-03T00:00:00Z"), ("arm64", "2024-11-03T00:07:00Z")], base
        ),
        *push_tags(pusher, "base", [("bookworm", "2024-10-01T00:00:00Z")], base, docker=True),
        push_debian9(pusher),
    ]


@pytest.fixture(scope="session")
def ecr_seeded(work):
    return seed(work, "ecr", seed_ecr)


@pytest.fixture(scope="session")
def moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def ecr_registry(ecr_seeded, work, moto_server):
    """The V2 side, and the same images created in moto through the ECR API."""
    users = {"AWS": f"{ACCOUNT}-auth-token"}
    auth = {"htpasswd": {"realm": f"https://{HOST}/", "path": str(htpasswd(work / "ecr-htpasswd", users))}}
    with RegistryServer(ecr_seeded.storage, work, auth=auth) as registry:
        _load_into_moto(moto_server, registry, ecr_seeded.storage)
        yield registry


def _load_into_moto(endpoint, registry, storage) -> None:
    import requests

    from tcs_registry.oci import MANIFEST_ACCEPT
    from tcs_registry.testing.facade import StoredRegistry

    ecr = boto3.client(
        "ecr", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="seed", aws_secret_access_key="seed"
    )
    stored = StoredRegistry(storage)
    session = requests.Session()
    session.auth = ("AWS", f"{ACCOUNT}-auth-token")
    for repository in stored.repositories():
        ecr.create_repository(repositoryName=repository)
        tags = stored.tags(repository)
        for digest in stored.manifests(repository):
            answer = session.get(
                f"{registry.url}/v2/{repository}/manifests/{digest}", headers={"Accept": MANIFEST_ACCEPT}
            )
            answer.raise_for_status()
            names = [t for t, d in tags.items() if d == digest]
            for tag in names or [None]:
                extra = {"imageTag": tag} if tag else {}
                ecr.put_image(
                    repositoryName=repository,
                    imageManifest=answer.content.decode(),
                    imageDigest=digest,
                    imageManifestMediaType=answer.headers["Content-Type"],
                    **extra,
                )


@pytest.fixture
def ecr_env(monkeypatch, moto_server, ecr_registry):
    """boto3 pointed at moto, V2 at the registry; no credentials yet (each test picks a source)."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to look for here
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("TCS_ECR_REGISTRY_URL", ecr_registry.url)
    return ecr_registry


@pytest.fixture
def ecr_expected(ecr_seeded):
    return ecr_seeded.expected
