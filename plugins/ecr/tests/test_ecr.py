"""The ECR plugin: boto3 against moto's server, config blobs from the real CNCF registry."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

import pytest
import tcs_registry_ecr.client
from tcs_registry_ecr import hooks
from tcs_registry_ecr.client import ACCEPTED_MEDIA_TYPES, EcrClient, parse_host

from tcs_registry.models import Credentials, Registry
from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import (
    csv_rows,
    expected_rows,
    failures_path,
    namespace_run,
    report_path,
    vulnerabilities,
)
from tcs_registry.testing.proxy import Proxy
from tcs_registry.testing.vulnerable import DEBIAN9_FINDINGS

HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
URL = f"https://{HOST}"


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


def test_credentials_from_environment_variables(tcs, pm, ecr_env, ecr_expected, out_dir, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret-access-key")
    with Proxy(ecr_env.url, lambda *_: None) as v2:
        monkeypatch.setenv("TCS_ECR_REGISTRY_URL", v2.url)
        result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: ECR"
    assert csv_rows(report_path(out_dir, HOST)) == expected_rows(HOST, ecr_expected)  # no untagged image
    assert not any("/manifests/" in p for p in v2.paths)  # manifests came from batch_get_image
    assert {p.split("/blobs/")[0] for p in v2.paths if "/blobs/" in p} == {
        "/v2/team/api",
        "/v2/team/web",
        "/v2/base",
        "/v2/apps/debian9",
    }
    assert "example-secret-access-key" not in result.err


@pytest.mark.parametrize("source", ["environment", "profile"])
def test_scan(tcs, pm, ecr_env, ecr_expected, out_dir, vulnerability_database, monkeypatch, tmp_path, source):
    """The default mode: every image's layers through the V2 API with the ECR password, the manifests
    described from BatchGetImage found again in the core's cache."""
    aws_credentials(monkeypatch, tmp_path, source)
    result = tcs("registry", URL, "--format=json", pm=pm)
    assert result.code == 0, result.err
    scanned = [m for m in result.infos if m.startswith("info\tScanned image")]
    assert len(scanned) == len(ecr_expected) + 1  # team/web:2.0 has two platforms
    assert vulnerabilities(out_dir, HOST, "apps/debian9", "1") == DEBIAN9_FINDINGS


def test_credentials_from_a_shared_credentials_profile(tcs, pm, ecr_env, ecr_expected, out_dir, monkeypatch, tmp_path):
    aws_credentials(monkeypatch, tmp_path, "profile")
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, HOST)) == expected_rows(HOST, ecr_expected)


def test_no_credentials_anywhere(tcs, pm, ecr_env):
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 3
    assert result.messages[-1] == (
        "error\tno AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
        "or run where an instance or container role is available"
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", ("123456789012", "eu-west-1", False)),
        ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", ("123456789012", "us-gov-west-1", True)),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", ("123456789012", "cn-north-1", False)),
        ("123456789012.dkr-ecr.eu-west-1.on.aws", ("123456789012", "eu-west-1", False)),
        ("12345.dkr.ecr.eu-west-1.amazonaws.com", None),
        ("public.ecr.aws", None),
    ],
)
def test_host_names(host, expected):
    parsed = parse_host(host)
    assert (parsed and (parsed.account, parsed.region, parsed.fips)) == expected
    assert bool(hooks.plugin.sniff(f"https://{host}")) == bool(expected)


def aws_credentials(monkeypatch, tmp_path, source: str) -> None:
    """AWS credentials from the environment, or from a shared credentials file's profile."""
    if source == "environment":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret-access-key")
        return
    credentials = tmp_path / "credentials"
    credentials.write_text("[ci]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = profile-secret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "ci")


@pytest.fixture
def aws_keys(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret-access-key")


def test_pages_and_batches_as_ecr_serves_them(tcs, pm, ecr_env, ecr_api, ecr_expected, out_dir, aws_keys, monkeypatch):
    """One result a page through nextToken; one password for the run (it lasts 12 hours); every
    BatchGetImage names the manifest types we read."""
    monkeypatch.setattr(tcs_registry_ecr.client, "PAGE_SIZE", 1)
    before = len(ecr_api.calls)
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, HOST)) == expected_rows(HOST, ecr_expected)
    calls = ecr_api.calls[before:]
    pages = [body.get("nextToken") is not None for name, body in calls if name == "DescribeRepositories"]
    assert pages == [False, True, True, True]  # four repositories
    api_pages = [b for n, b in calls if n == "DescribeImages" and b["repositoryName"] == "team/api"]
    assert [(b["maxResults"], b["filter"], "nextToken" in b) for b in api_pages] == [
        (1, {"tagStatus": "TAGGED"}, False),  # 1.0
        (1, {"tagStatus": "TAGGED"}, True),  # 1.1 and latest (the untagged image is left out)
    ]
    assert sum(1 for name, _ in calls if name == "GetAuthorizationToken") == 1
    batches = [body for name, body in calls if name == "BatchGetImage"]
    assert batches and all(b["acceptedMediaTypes"] == ACCEPTED_MEDIA_TYPES for b in batches)


@pytest.mark.timing  # (the gaps between the calls as the API receives them: run apart from the parallel run)
def test_max_rate_counts_the_api_calls(tcs, pm, ecr_env, ecr_api, ecr_expected, out_dir, aws_keys, monkeypatch):
    """--max-rate is a ceiling on every request the run makes: the ECR API's calls (a page each here)
    too, spaced at least 1/rate apart with the V2 requests between them."""
    monkeypatch.setattr(tcs_registry_ecr.client, "PAGE_SIZE", 1)
    before = len(ecr_api.times)
    result = tcs("registry", URL, "--mode=dry-run", "--max-rate=10", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, HOST)) == expected_rows(HOST, ecr_expected)
    times = ecr_api.times[before:]
    assert len(times) >= 10
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 0.09, [round(gap, 3) for gap in gaps]


SCHEMA1 = json.dumps(
    {
        "schemaVersion": 1,
        "name": "team/api",
        "tag": "legacy",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": "sha256:" + "a" * 64}],
        "history": [{"v1Compatibility": json.dumps({"id": "b" * 64, "created": "2016-01-01T00:00:00Z"})}],
    }
).encode()
SCHEMA1_TYPE = "application/vnd.docker.distribution.manifest.v1+json"


@pytest.fixture
def legacy_tag(moto_ecr):
    """team/api:legacy, pushed long ago as schema 1: ECR keeps it in that format and serves it so."""
    digest = "sha256:" + hashlib.sha256(SCHEMA1).hexdigest()
    moto_ecr.put_image(
        repositoryName="team/api",
        imageManifest=SCHEMA1.decode(),
        imageManifestMediaType=SCHEMA1_TYPE,
        imageDigest=digest,
        imageTag="legacy",
    )
    yield digest
    moto_ecr.batch_delete_image(repositoryName="team/api", imageIds=[{"imageDigest": digest}])


def test_a_schema_1_image_fails_alone(tcs, pm, ecr_env, ecr_expected, out_dir, aws_keys, legacy_tag, monkeypatch):
    def v2(path, *_):
        if path == f"/v2/team/api/manifests/{legacy_tag}":
            return 200, {"Content-Type": SCHEMA1_TYPE, "Docker-Content-Digest": legacy_tag}, SCHEMA1
        return None

    with Proxy(ecr_env.url, v2) as proxy:
        monkeypatch.setenv("TCS_ECR_REGISTRY_URL", proxy.url)
        result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 4, result.err
    assert csv_rows(report_path(out_dir, HOST)) == expected_rows(HOST, ecr_expected)  # team/api's others too
    [(repository, tag, code, reason)] = csv_rows(failures_path(out_dir, HOST))[1:]
    assert (repository, tag, code) == (f"{HOST}/team/api", "legacy", "unsupported-media-type")
    assert reason.endswith(
        f"/team/api@{legacy_tag}: schema 1 manifests are not supported (deprecated format; re-push the image)"
    )


def test_a_repository_name_of_256_characters(tcs, pm, ecr_env, moto_ecr, aws_keys):
    """ECR allows 256 characters (botocore RepositoryName), one more than distribution's grammar."""
    name = "long/" + "a" * 251
    moto_ecr.create_repository(repositoryName=name)
    try:
        result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    finally:
        moto_ecr.delete_repository(repositoryName=name, force=True)
    assert result.code == 0, result.err
    assert not [m for m in result.messages if m.startswith("error")]


def _client(monkeypatch, host: str, **env: str) -> EcrClient:
    for name in ("AWS_ENDPOINT_URL", "TCS_ECR_REGISTRY_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    registry = Registry(url=f"https://{host}", scheme="https", host=host, path="", registry_type="ECR")
    return EcrClient(registry, Credentials())


@pytest.mark.parametrize(
    ("host", "env", "endpoint"),
    [
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com", {}, "https://api.ecr.us-east-1.amazonaws.com"),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            {"AWS_USE_FIPS_ENDPOINT": "true"},
            "https://ecr-fips.us-east-1.amazonaws.com",
        ),
        ("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", {}, "https://ecr-fips.us-east-1.amazonaws.com"),
        # a dual-stack registry host: its API over IPv6 too (botocore's ecr endpoint-rule-set-1.json, UseDualStack)
        ("123456789012.dkr-ecr.us-east-1.on.aws", {}, "https://ecr.us-east-1.api.aws"),
        ("123456789012.dkr-ecr-fips.us-east-1.on.aws", {}, "https://ecr-fips.us-east-1.api.aws"),
    ],
)
def test_the_users_fips_setting_is_kept(monkeypatch, ecr_env, host, env, endpoint):
    """botocore lets a client Config win over AWS_USE_FIPS_ENDPOINT: the plugin sets it only for a
    FIPS host name."""
    assert _client(monkeypatch, host, **env).ecr.meta.endpoint_url == endpoint


def test_the_api_calls_wait_as_long_as_the_runs_requests(monkeypatch, ecr_env):
    """botocore waits 60 s to connect and 60 s for an answer, 10 attempts: a blocked API endpoint (no
    ecr.api VPC endpoint in a private subnet) would be 20 minutes of silence. The run's timeout applies."""
    client = _client(monkeypatch, HOST)
    assert (client.ecr.meta.config.connect_timeout, client.ecr.meta.config.read_timeout) == client.timeout
    registry = Registry(url=f"https://{HOST}", scheme="https", host=HOST, path="", registry_type="ECR")
    config = EcrClient(registry, Credentials(), timeout=(3.0, 7.0)).ecr.meta.config  # --timeout=7
    assert (config.connect_timeout, config.read_timeout) == (3.0, 7.0)


def test_the_profiles_retry_settings_are_kept(monkeypatch, ecr_env, tmp_path):
    config = tmp_path / "config"
    config.write_text("[profile ci]\nretry_mode = standard\nmax_attempts = 3\n")
    client = _client(monkeypatch, HOST, AWS_CONFIG_FILE=str(config), AWS_PROFILE="ci")
    assert client.ecr.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    monkeypatch.delenv("AWS_PROFILE")
    default = _client(monkeypatch, HOST, AWS_CONFIG_FILE="/nonexistent")
    assert default.ecr.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 11}


def test_a_password_the_registry_refuses_is_renewed(
    tcs, pm, ecr_env, ecr_v2, ecr_api, ecr_expected, out_dir, aws_keys, monkeypatch
):
    """A password revoked since it was handed out (ECR: 403 DENIED, "Your authorization token has
    expired") is asked for again (here at once; else every 30 s)."""
    monkeypatch.setattr(ecr_api, "stale_passwords", 1)
    monkeypatch.setattr(tcs_registry_ecr.client, "REFUSED_GAP", 0.0)
    before = ecr_api.count("GetAuthorizationToken")
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert ecr_v2.denied == 1  # ECR's refusal is what the run met
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, HOST)) == expected_rows(HOST, ecr_expected)
    assert ecr_api.count("GetAuthorizationToken") - before == 2


def test_requests_refused_together_go_again_with_the_one_new_password(ecr_v2, ecr_api, aws_keys, monkeypatch):
    """Two requests sent with a password ECR no longer takes, a minute after it was handed out: the first
    to see its 403 renews the password; the other's 403 comes after that, within the 30 s between two
    renewals, and it goes again with the newer password rather than failing its image."""
    later = {"by": 0.0}
    monkeypatch.setattr(tcs_registry_ecr.client, "time", types.SimpleNamespace(time=lambda: time.time() + later["by"]))
    monkeypatch.setattr(ecr_api, "stale_passwords", 1)
    monkeypatch.setattr(ecr_v2, "together", threading.Barrier(2, action=lambda: later.update(by=60.0), timeout=10))
    client = EcrClient(Registry(url=URL, scheme="https", host=HOST, path="", registry_type="ECR"), Credentials())
    before = ecr_api.count("GetAuthorizationToken")
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: client.request("GET", "/v2/").status_code, range(2)))
    assert ecr_v2.denied == 2 and ecr_v2.together is None  # both went with the old password
    assert answers == [200, 200]
    assert ecr_api.count("GetAuthorizationToken") - before == 2  # the first, and one renewal for both


HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": HELM_CONFIG, "digest": "sha256:" + "c" * 64, "size": 9},
        "layers": [
            {
                "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                "digest": "sha256:" + "d" * 64,
                "size": 9,
            }
        ],
    }
).encode()


def test_an_artifact_is_skipped_with_what_it_is(tcs, pm, ecr_env, moto_ecr, out_dir, aws_keys):
    """ECR stores artifacts (artifactMediaType, subjectManifestDigest in DescribeImages): a Helm chart is
    reported skipped, never described nor scanned as an image."""
    digest = "sha256:" + hashlib.sha256(HELM_CHART).hexdigest()
    moto_ecr.create_repository(repositoryName="charts/web")
    moto_ecr.put_image(
        repositoryName="charts/web",
        imageManifest=HELM_CHART.decode(),
        imageManifestMediaType="application/vnd.oci.image.manifest.v1+json",
        imageDigest=digest,
        imageTag="0.1.0",
    )
    try:
        result = tcs("registry", URL, "--format=json", "--allowList=charts/*", pm=pm)
    finally:
        moto_ecr.delete_repository(repositoryName="charts/web", force=True)
    assert result.code == 0, result.err
    skipped = f"info\tSkipped image={HOST}/charts/web:0.1.0 reason=an artifact (config {HELM_CONFIG})"
    assert skipped in result.infos
    assert not [m for m in result.infos if m.startswith("info\tScanned image")]


def _read(ecr_api, before: int) -> dict[str, int]:
    """The manifests batch_get_image read since ``before``, by repository."""
    read: dict[str, int] = {}
    for name, body in ecr_api.calls[before:]:
        if name == "BatchGetImage":
            read[body["repositoryName"]] = read.get(body["repositoryName"], 0) + len(body["imageIds"])
    return read


def test_only_the_images_the_run_describes_are_read(
    tcs, pm, ecr_env, ecr_api, ecr_expected, out_dir, aws_keys, monkeypatch
):
    """batch_get_image is ECR's pull: it sets LastRecordedPullTime, which lifecycle rules on pull time go
    by (botocore's ecr service-2.json: "When an image is pulled, the BatchGetImage API is called once to
    retrieve the image manifest"). Images the patterns or the shard leave out are never read, not even
    for a dry run's report (their rows say skipped, with no build time), nor fetched over V2."""
    before, direct = len(ecr_api.calls), os.environ.get("TCS_ECR_REGISTRY_URL", "")
    with Proxy(ecr_env.url, lambda *_: None) as v2:
        monkeypatch.setenv("TCS_ECR_REGISTRY_URL", v2.url)
        result = tcs("registry", URL, "--mode=dry-run", "--denyList=team/*", pm=pm)
    monkeypatch.setenv("TCS_ECR_REGISTRY_URL", direct)
    assert result.code == 0, result.err
    denied = lambda e: e.repository.startswith("team/")  # noqa: E731
    assert csv_rows(report_path(out_dir, HOST)) == expected_rows(HOST, ecr_expected, denied, dated_skipped=False)
    assert set(_read(ecr_api, before)) == {"base", "apps/debian9"}
    assert not any(p.startswith("/v2/team/") for p in v2.paths), v2.paths

    shares = []
    for share in (1, 2):
        before = len(ecr_api.calls)
        done = tcs("registry", URL, "--mode=dry-run", f"--shard={share}/2", "--scan-id=s1", pm=pm)
        assert done.code == 0, done.err
        shares.append(_read(ecr_api, before))
    whole = {r: a + b for r, a, b in ((r, shares[0].get(r, 0), shares[1].get(r, 0)) for r in {*shares[0], *shares[1]})}
    before = len(ecr_api.calls)
    assert tcs("registry", URL, "--mode=dry-run", pm=pm).code == 0
    assert whole == _read(ecr_api, before)  # two workers read each manifest once between them

    # --max-images: which images it admits is known only in listing order; none is read ahead
    before = len(ecr_api.calls)
    limited = tcs("registry", URL, "--mode=dry-run", "--max-images=1", pm=pm)
    assert limited.code == 0, limited.err
    assert _read(ecr_api, before) == {}


def test_a_path_in_the_url_names_the_repositories_under_it(tcs, pm, ecr_env, ecr_expected, out_dir, aws_keys):
    """`https://<registry>/team` is the team/ namespace, as a docker user reads it: not the whole registry."""
    namespace_run(tcs, URL, "team", ecr_expected, out_dir, pm=pm)
    typo = tcs("registry", f"{URL}/tema", "--mode=dry-run", pm=pm)  # not an empty registry: a typo
    assert typo.code == 3, typo.err
    assert typo.messages[-1] == "error\tno repository is named 'tema' or under it (the URL's path)"


def test_a_renewal_that_fails_early_keeps_the_password_in_hand(
    tcs, pm, ecr_env, ecr_api, ecr_expected, out_dir, aws_keys, monkeypatch
):
    """Seven hours in (past the half-life of its 12), asking for a new password fails (the role's session
    ended): the one in hand lasts five hours more and is kept, with one warning, and asked again only
    30 s after that answer (which took 40), not before every request."""
    later = {"by": 0.0}
    clock = types.SimpleNamespace(time=lambda: time.time() + later["by"])
    monkeypatch.setattr(tcs_registry_ecr.client, "time", clock)
    moto = ecr_api._moto

    def seven_hours_on(request, body):
        operation = request.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        if operation == "DescribeImages" and not later["by"]:
            later["by"] = 7 * 3600.0
        if operation == "GetAuthorizationToken" and later["by"]:
            later["by"] += 40  # (a slow answer, its retries: longer than the 30 s to the next try)
            return 400, {
                "__type": "ExpiredTokenException",
                "message": "The security token included in the request is expired",
            }
        return moto(request, body)

    monkeypatch.setattr(ecr_api, "_moto", seven_hours_on)
    before = ecr_api.count("GetAuthorizationToken")
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, HOST)) == expected_rows(HOST, ecr_expected)
    assert ecr_api.count("GetAuthorizationToken") - before == 2  # the first, and the one renewal tried
    kept = [m for m in result.messages if "the registry password in hand is kept until it expires" in m]
    assert len(kept) == 1 and kept[0].startswith("warn\t"), result.messages


def test_an_aws_profile_that_is_not_there_is_one_usage_line(tcs, pm, ecr_env, monkeypatch):
    """botocore's ProfileNotFound, as any setting of AWS's that cannot be used: exit 2, not a bug of ours."""
    monkeypatch.setenv("AWS_PROFILE", "nowhere")
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 2, result.err
    assert (
        result.messages[-1] == "error\tAWS's settings cannot be used: The config profile (nowhere) could not be found"
    )


def test_a_host_that_is_not_ecr_is_a_usage_error_before_any_request(tcs, pm, ecr_env):
    """--registry-type=ECR on another host: the URL is wrong for the type (exit 2), and AWS is not asked
    for a token to send it."""
    result = tcs("registry", "http://127.0.0.1:9", "--mode=dry-run", "--registry-type=ECR", pm=pm)
    assert result.code == 2, result.err
    assert result.messages[-1] == (
        "error\t127.0.0.1:9 is not an ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com)"
    )
