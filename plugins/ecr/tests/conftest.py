"""Amazon ECR for tests: moto's server mode for the ECR API (ThreadedMotoServer on loopback) behind
a strict layer, and the real CNCF registry, behind htpasswd with ECR's registry user, for the V2 API.

moto's get_authorization_token answers base64("AWS:<account>-auth-token") (moto/ecr/responses.py);
the registry takes exactly that user and password. Images are pushed to the registry, then put
into moto through the real ECR API (put_image with the manifest bytes and their digest, as ECR
stores them), so both sides agree byte for byte.

moto is lenient where ECR is not (moto/ecr/models.py: "maxResults and nextToken not implemented",
"AcceptedMediaTypes has not yet been implemented", filter ignored, expiresAt fixed in 2015), so
`EcrApi` stands in front of it and does what botocore's ECR model
(botocore/data/ecr/2015-09-21/service-2.json) says ECR does:

* DescribeRepositories and DescribeImages page by ``maxResults`` (1-1000, default 100) and an opaque
  ``nextToken``; either with ``repositoryNames``/``imageIds`` is an InvalidParameterException;
* DescribeImages keeps only what ``filter.tagStatus`` (TAGGED, UNTAGGED, ANY) asks for;
* BatchGetImage takes 1-100 ``imageIds`` and 1-100 ``acceptedMediaTypes`` (ImageIdentifierList,
  MediaTypeList); botocore checks neither maximum on the client (botocore/validate.py);
* GetAuthorizationToken's password is valid for 12 hours (GetAuthorizationToken's documentation).

Not modelled, for want of a source: what BatchGetImage does when the stored type is not among the
accepted ones (the ECR user guide, image-manifest-formats.md, says only that pulls by digest are
never translated).
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from tcs_registry.testing.datasets import Expected, push_index, push_tags
from tcs_registry.testing.facade import Answer, Facade, Request, json_answer
from tcs_registry.testing.fixtures import seed
from tcs_registry.testing.images import Pusher, make_layer
from tcs_registry.testing.proxy import Proxy
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


TARGET = "AmazonEC2ContainerRegistry_V20150921."
DEFAULT_PAGE, MAX_PAGE, MAX_IDS, MAX_MEDIA_TYPES = 100, 1000, 100, 100
TOKEN_HOURS = 12


def invalid(message: str) -> Answer:
    """An ECR error as the JSON protocol carries it (botocore reads ``__type``)."""
    return json_answer({"__type": "InvalidParameterException", "message": message}, 400)


class EcrApi(Facade):
    """The ECR API: moto behind the rules of botocore's ECR model that moto leaves out."""

    def __init__(self, moto: str) -> None:
        super().__init__(moto, name="ecr")
        self.route("POST", "/")(self.call)
        self.calls: list[tuple[str, dict]] = []  # (operation, request), as the client sent them
        self.times: list[float] = []  # when each came (time.monotonic())
        self.stale_passwords = 0  # this many passwords handed out that the registry no longer takes

    def _moto(self, request: Request, body: dict) -> tuple[int, dict]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = self.session.post(self.upstream + "/", data=json.dumps(body), headers=headers)
        return answer.status_code, answer.json()

    def call(self, request: Request) -> Answer:
        operation = request.headers.get("X-Amz-Target", "").removeprefix(TARGET)
        body = request.json() or {}
        self.calls.append((operation, json.loads(request.body or b"{}")))
        self.times.append(time.monotonic())
        registry = body.get("registryId")
        if registry is not None and not (len(registry) == 12 and registry.isdigit()):
            return invalid(f"Invalid parameter at 'registryId' failed to satisfy constraint: {registry!r}")
        if operation in ("DescribeRepositories", "DescribeImages"):
            return self._paged(request, operation, body)
        if operation == "BatchGetImage":
            if not 1 <= len(body.get("imageIds") or ()) <= MAX_IDS:
                return invalid(f"imageIds must hold 1 to {MAX_IDS} image ids")
            accepted = body.get("acceptedMediaTypes")
            if accepted is not None and not 1 <= len(accepted) <= MAX_MEDIA_TYPES:
                return invalid(f"acceptedMediaTypes must hold 1 to {MAX_MEDIA_TYPES} media types")
        status, answer = self._moto(request, body)
        if operation == "GetAuthorizationToken" and status == 200:
            for data in answer["authorizationData"]:
                data["expiresAt"] = time.time() + TOKEN_HOURS * 3600
                if self.stale_passwords > 0:  # one revoked since (say, the role's session ended)
                    self.stale_passwords -= 1
                    data["authorizationToken"] = base64.b64encode(b"AWS:revoked-password").decode()
        return json_answer(answer, status)

    def _paged(self, request: Request, operation: str, body: dict) -> Answer:
        key, named = (
            ("repositories", "repositoryNames") if operation == "DescribeRepositories" else ("imageDetails", "imageIds")
        )
        size, token = body.pop("maxResults", None), body.pop("nextToken", None)
        if (size is not None or token is not None) and body.get(named):
            return invalid(f"maxResults and nextToken cannot be used with {named}")
        if size is not None and not 1 <= size <= MAX_PAGE:
            return invalid(f"maxResults must be between 1 and {MAX_PAGE}")
        status, answer = self._moto(request, body)
        if status != 200:
            return json_answer(answer, status)
        items = answer.get(key) or []
        wanted = (body.get("filter") or {}).get("tagStatus", "ANY")
        if key == "imageDetails" and wanted != "ANY":
            items = [i for i in items if bool(i.get("imageTags")) == (wanted == "TAGGED")]
        start = json.loads(base64.b64decode(token))["offset"] if token else 0
        end = start + (size or DEFAULT_PAGE)
        page = {key: items[start:end]}
        if end < len(items):
            page["nextToken"] = base64.b64encode(json.dumps({"offset": end}).encode()).decode()
        return json_answer(page)

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)


@pytest.fixture(scope="session")
def moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def ecr_api(moto_server):
    with EcrApi(moto_server) as api:
        yield api


@pytest.fixture(scope="session")
def ecr_registry(ecr_seeded, work, moto_server):
    """The V2 side, and the same images created in moto through the ECR API."""
    users = {"AWS": f"{ACCOUNT}-auth-token"}
    auth = {"htpasswd": {"realm": f"https://{HOST}/", "path": str(htpasswd(work / "ecr-htpasswd", users))}}
    with RegistryServer(ecr_seeded.storage, work, auth=auth) as registry:
        _load_into_moto(moto_server, registry, ecr_seeded.storage)
        yield registry


def _load_into_moto(endpoint, registry, storage) -> None:
    from tcs_registry.oci import MANIFEST_ACCEPT
    from tcs_registry.testing.facade import StoredRegistry

    ecr = ecr_client(endpoint)
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


def ecr_client(endpoint: str):
    return boto3.client(
        "ecr", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="seed", aws_secret_access_key="seed"
    )


@pytest.fixture
def moto_ecr(moto_server, ecr_registry):
    """boto3 straight to moto, for a test that changes what ECR holds."""
    return ecr_client(moto_server)


@pytest.fixture
def ecr_env(monkeypatch, ecr_api, ecr_registry):
    """boto3 pointed at the strict ECR API, V2 at the registry; no credentials yet (each test picks a
    source)."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", ecr_api.url)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to look for here
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("TCS_ECR_REGISTRY_URL", ecr_registry.url)
    return ecr_registry


@pytest.fixture
def ecr_expected(ecr_seeded):
    return ecr_seeded.expected


EXPIRED = {"code": "DENIED", "message": "Your authorization token has expired. Reauthenticate and try again."}


class EcrV2(Proxy):
    """ECR's V2 side as it answers a password it no longer takes: 403 DENIED "Your authorization token has
    expired. Reauthenticate and try again." (AWS's "Troubleshooting Docker commands with Amazon ECR",
    error 403), where the CNCF registry's htpasswd answers 401 with a challenge. With no credentials at
    all, ECR too answers 401 and its Basic challenge."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, lambda *_: None)
        self.denied = 0  # passwords refused so
        # (a test's) refusals held back until this many are due: the first answered at once, the others
        # once a request has gone with a password the registry takes (the first's renewal): requests that
        # all went with the old password, whose 403s come after another thread renewed it
        self.together: threading.Barrier | None = None
        self._taken = threading.Event()
        self._counting = threading.Lock()

    def _dispatch(self, request: Request) -> Answer:
        status, headers, body = super()._dispatch(request)
        if not request.headers.get("Authorization"):
            return status, headers, body
        if status != 401:
            self._taken.set()
            return status, headers, body
        with self._counting:
            self.denied += 1
        if (together := self.together) is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                if together.wait() != 0:
                    self._taken.wait(10)
            self.together = None
        return json_answer({"errors": [EXPIRED]}, 403)


@pytest.fixture
def ecr_v2(ecr_env, monkeypatch):
    """The V2 side refusing as ECR does (`EcrV2`)."""
    with EcrV2(ecr_env.url) as v2:
        monkeypatch.setenv("TCS_ECR_REGISTRY_URL", v2.url)
        yield v2
