"""Names and answers from a registry that may be hostile: result files stay inside the output
directory, credentials are not sent where a redirect points, malformed descriptors fail cleanly."""

from __future__ import annotations

import json

import pytest

from tcs_registry.errors import ImageError
from tcs_registry.http import Transport
from tcs_registry.models import Inventory, Platform
from tcs_registry.oci import parse_manifest
from tcs_registry.results import ResultWriter, results_dir
from tcs_registry.testing.facade import Facade, text_answer


@pytest.mark.parametrize(
    ("repository", "tag", "stem"),
    [
        ("team/app", "1.0", "team/app/1.0@linux-arm64"),
        ("/tmp/evil", "1", "_/tmp/evil/1@linux-arm64"),
        ("a/../../b", "..", "a/_/_/b/@linux-arm64"),
        ("x//y", ".hidden", "x/_/y/hidden@linux-arm64"),
    ],
)
def test_result_files_stay_inside_the_output_directory(tmp_path, repository, tag, stem):
    writer = ResultWriter(tmp_path / "out", "reg.example:5000", ("json",))
    inventory = Inventory(repository, tag, "sha256:1", Platform("linux", "arm64"), "", "", "", "", (), ())
    writer.files(inventory, {"image": repository})
    written = [p for p in (tmp_path).rglob("*") if p.is_file()]
    assert [p.relative_to(results_dir(tmp_path / "out", "reg.example:5000")).as_posix() for p in written] == [
        stem + ".json"
    ]


def test_a_redirect_gets_no_credentials_from_netrc(tmp_path, monkeypatch):
    with (
        Facade("http://127.0.0.1:9", name="storage") as storage,
        Facade("http://127.0.0.1:9", name="registry") as registry,
    ):

        @registry.route("GET", r"/v2/app/blobs/.*")
        def redirect(request):
            return 307, {"Location": f"{storage.url}/data"}, b""

        @storage.route("GET", r"/data")
        def data(request):
            return text_answer("layer bytes")

        (tmp_path / "netrc").write_text("machine 127.0.0.1 login robot password s3cret\n")
        monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
        answer = Transport().request(
            "GET", f"{registry.url}/v2/app/blobs/sha256:1", headers={"Authorization": "Bearer t0ken"}
        )
        assert answer.text == "layer bytes"
    assert storage.requests[0].headers.get("Authorization") is None  # requests alone would add robot:s3cret


def test_a_redirect_to_a_host_that_cannot_be_reached_names_that_host():
    """A registry sending its blobs' reads to a store that does not answer: the error names the store, where
    the user has to look, and the registry that sent it there."""
    import time

    from tcs_registry.errors import RegistryError
    from tcs_registry.http import RegistryClient
    from tcs_registry.models import Credentials, Registry

    with Facade("http://127.0.0.1:9", name="registry") as registry:
        registry.route("GET", r"/v2/")(lambda request: (200, {"Content-Type": "application/json"}, b"{}"))
        registry.route("GET", r"/v2/app/blobs/.*")(lambda request: (307, {"Location": "http://127.0.0.1:9/d"}, b""))
        client = RegistryClient(Registry(registry.url, "http", registry.host, "", "DEFAULT_V2"), Credentials())
        assert client.get("/v2/").status_code == 200  # the registry answers: it is there, and the store is not it
        began = time.monotonic()
        with pytest.raises(RegistryError) as raised:
            client.blob("app", "sha256:" + "0" * 64)
        assert time.monotonic() - began < 5  # not waited for as the registry would be, a minute
    assert str(raised.value) == (
        f"cannot connect to 127.0.0.1:9 (where {registry.host} redirected the request): Connection refused"
    )


@pytest.mark.parametrize("size", [{"a": 1}, "12x", -1, True, [3]])
def test_a_malformed_descriptor_size_fails_the_image_cleanly(size):
    body = (
        b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",'
        b' "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:1", "size": '
        + json.dumps(size).encode()
        + b'}, "layers": []}'
    )
    with pytest.raises(ImageError, match="malformed descriptor in manifest"):
        parse_manifest(body, "application/vnd.oci.image.manifest.v1+json", "", "reg/app:1")


def test_names_off_the_distribution_grammar_are_reported_never_fetched(tcs, anonymous_registry, standard, out_dir):
    """Names a spreadsheet would run as formulas, paths, control characters: refused by the OCI
    distribution grammar before any request, and listed in the failures report neutralised."""
    from tcs_registry.testing.helpers import csv_rows, expected_rows, failures_path, report_path
    from tcs_registry.testing.proxy import Proxy

    hostile_tags = ["=HYPERLINK(1)", "+1", "-2", "@SUM(3)", "a\nb", "x!", "x" * 129]
    hostile_repositories = ["../etc", "Bad Name", "a//b"]

    def hostile(path, session, upstream):
        if path.startswith("/v2/_catalog"):
            names = sorted({e.repository for e in standard.expected}) + hostile_repositories
            return 200, {"Content-Type": "application/json"}, json.dumps({"repositories": names}).encode()
        if path.startswith("/v2/alpine/tags/list"):
            tags = [e.tag for e in standard.expected if e.repository == "alpine"] + hostile_tags
            return 200, {"Content-Type": "application/json"}, json.dumps({"name": "alpine", "tags": tags}).encode()
        return None

    with Proxy(anonymous_registry.url, hostile) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        rows = csv_rows(report_path(out_dir, proxy.host))
        failed = csv_rows(failures_path(out_dir, proxy.host))
        asked = proxy.paths
        only_alpine = tcs("registry", proxy.url, "--mode=dry-run", "--allowList=alpine", "--denyList=alpine:x*")
        failed_alpine = csv_rows(failures_path(out_dir, proxy.host))
    host = proxy.host
    # names the patterns leave out are not failures (those repositories are left out, those tags skipped:
    # 'x!'), unless too long to be matched safely
    assert only_alpine.code == 4
    assert "Skipped images        : 8\n" in only_alpine.out  # 'x!' among them, never asked for
    assert sorted(row[1] for row in failed_alpine[1:]) == [
        "'+1",
        "'-2",
        "'=HYPERLINK(1)",
        "'@SUM(3)",
        "a\\nb",
        "x" * 128,
    ]
    assert result.code == 4
    assert rows == expected_rows(host, standard.expected)  # every valid image described as usual
    assert sorted(failed[1:]) == [
        [f"{host}/../etc", "", "invalid-name", "the registry listed an invalid repository name '../etc'"],
        [f"{host}/Bad Name", "", "invalid-name", "the registry listed an invalid repository name 'Bad Name'"],
        [f"{host}/a//b", "", "invalid-name", "the registry listed an invalid repository name 'a//b'"],
        [f"{host}/alpine", "'+1", "invalid-name", "the registry listed an invalid tag name '+1'"],
        [f"{host}/alpine", "'-2", "invalid-name", "the registry listed an invalid tag name '-2'"],
        [f"{host}/alpine", "'=HYPERLINK(1)", "invalid-name", "the registry listed an invalid tag name '=HYPERLINK(1)'"],
        [f"{host}/alpine", "'@SUM(3)", "invalid-name", "the registry listed an invalid tag name '@SUM(3)'"],
        [f"{host}/alpine", "a\\nb", "invalid-name", "the registry listed an invalid tag name 'a\\nb'"],
        [f"{host}/alpine", "x!", "invalid-name", "the registry listed an invalid tag name 'x!'"],
        [
            f"{host}/alpine",
            "x" * 128,
            "invalid-name",
            f"the registry listed an invalid tag name '{'x' * 128}'",
        ],  # cut to 128
    ]
    valid = {(e.repository, e.tag) for e in standard.expected}
    for path in asked:  # only the valid names were ever asked for
        name, _, reference = path.removeprefix("/v2/").partition("/manifests/")
        if reference:
            assert (name, reference) in valid or reference.startswith("sha256:"), path
        elif "/tags/list" in path:
            assert name.split("/tags/list")[0] in {repository for repository, _ in valid}, path
    errors = [m for m in result.messages if m.startswith("error")]
    refused = (
        "error\tFailed repository name repository=../etc error=the registry listed an invalid repository name '../etc'"
    )
    assert refused in errors
    assert (
        f"error\tFailed image name image={host}/alpine:a\\nb error=the registry listed an invalid tag name 'a\\nb'"
        in errors
    )
    assert "Failed images         : 7\n" in result.out


def test_a_catalog_entry_that_is_not_a_name_ends_the_listing_with_one_line(tcs, anonymous_registry, standard):
    """A null among a catalog's names (JSON the registry sent): the repositories before it are done, the
    listing ends there with one line saying what it held, and the run is partial."""
    from tcs_registry.testing.proxy import Proxy

    def hostile(path, session, upstream):
        if path.startswith("/v2/_catalog"):
            body = {"repositories": ["alpine", None, "team/api"]}
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return None

    with Proxy(anonymous_registry.url, hostile) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
    assert result.code == 4, result.err
    assert [m for m in result.messages if m.startswith("error")] == [
        "error\tRepository listing stopped early after 1 repository error=the repository listing holds null, not a name"
    ]
    described = {m.split(":")[-2].rsplit("/", 1)[-1] for m in result.infos if "Fetched image discovery" in m}
    assert described == {"alpine"}


@pytest.mark.parametrize(
    ("repository", "tag", "valid"),
    [  # examples from the OCI distribution spec's name grammar
        ("library/ubuntu", None, True),
        ("a.b_c__d-e--f/g0", None, True),
        ("team/api", "1.1.0-debug", True),
        ("x", "_latest.2", True),
        ("x", "x" * 128, True),
        ("a___b", None, False),
        ("a_", None, False),
        ("-a", None, False),
        ("a/", None, False),
        ("Team/api", None, False),
        ("a" * 256, None, False),
        ("x", ".hidden", False),
        ("x", "a/b", False),
        ("x", "", False),
    ],
)
def test_the_distribution_name_grammar(repository, tag, valid):
    from tcs_registry.oci import name_problem

    assert (name_problem(repository, tag) is None) == valid


def test_a_vendor_repository_key_follows_the_vendor_not_the_distribution_grammar():
    """Artifactory and Nexus name their repositories as they like (``Docker-Hosted``): only the image
    name after the key is held to the distribution grammar."""
    from tcs_registry.http import RoutedRegistryClient
    from tcs_registry.models import Credentials, Registry

    client = RoutedRegistryClient(
        Registry("https://reg.example", "https", "reg.example", "", "artifactory"), Credentials(), keys=[]
    )
    assert client.name_problem("Docker-Hosted/team/app") is None
    assert client.name_problem("Docker-Hosted/team/app", "1.0") is None
    assert client.name_problem("Docker Hosted/app") == "the registry listed an invalid repository key 'Docker Hosted'"
    assert client.name_problem("docker-local/Team/app") == ("the registry listed an invalid repository name 'Team/app'")


def test_a_credential_the_registry_echoes_as_a_name_is_starred_out_everywhere(tcs, anonymous_registry, out_dir):
    """A registry that lists the password back as tags (one off the tag grammar, one on it): every report,
    result file, log line and the store show *** instead."""
    from urllib.parse import urlsplit

    from tcs_registry.testing.proxy import Proxy

    password = "Sup3r-S3cret"

    def echo(path, session, upstream):
        if urlsplit(path).path != "/v2/alpine/tags/list":
            return None
        body = session.get(upstream + path).json()
        body["tags"] += [f"{password}/pw+x", password]
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    with Proxy(anonymous_registry.url, echo) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run", "--username=bob", f"--password={password}")
    assert result.code == 4, result.err
    host = urlsplit(proxy.url).netloc
    failures = (out_dir / (host.replace(".", "-").replace(":", "-") + "-failures.csv")).read_text()
    assert f"{host}/alpine,***/pw+x,invalid-name," in failures and f"{host}/alpine,***,not-found," in failures
    state = out_dir.parent / "state"
    written = [p.read_bytes() for p in [*out_dir.rglob("*"), *state.rglob("*")] if p.is_file()]
    assert written and not any(password.encode() in data for data in written)
    assert password not in result.err + result.out


def test_a_short_password_that_is_a_word_of_a_name_leaves_the_name_whole(tcs, anonymous_registry, standard, out_dir):
    """A password such as "team" is starred out of log lines wherever it is, but a name holding it by
    chance (team/api) stays whole in the report: it names the image (--plan reads the report)."""
    from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path

    result = tcs("registry", anonymous_registry.url, "--mode=dry-run", "--username=bob", "--password=team")
    assert result.code == 0, result.err
    host = anonymous_registry.host
    assert csv_rows(report_path(out_dir, host)) == expected_rows(host, standard.expected)


def test_a_signed_url_a_registry_redirects_to_is_never_logged_whole(fresh_registry, tmp_path):
    """Blobs sent to a store by a signed URL (S3's X-Amz-Signature) that does not answer: with -v, urllib3's
    own retry lines quote the URL; its query's values are starred out there too, as in the error."""
    import subprocess

    from tcs_registry.testing.helpers import console_script
    from tcs_registry.testing.images import Pusher, make_layer
    from tcs_registry.testing.proxy import Proxy

    Pusher(fresh_registry.url).image("app", "1", created=None, layers=[make_layer({"a": b"1"})])
    signed = "http://127.0.0.1:9/blob?X-Amz-Credential=AKIDSECRET&X-Amz-Signature=SIGSECRET"

    def redirect(target, session, upstream):
        return (307, {"Location": signed}, b"") if "/blobs/" in target else None

    with Proxy(fresh_registry.url, redirect) as proxy:
        run = subprocess.run(
            [console_script(), "registry", proxy.url, "--mode=dry-run", "-v", f"--state-dir={tmp_path}",
             f"--output-dir={tmp_path}"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert run.returncode == 4, run.stderr[-2000:]
    assert "Retrying (PacedRetry" in run.stderr and "/blob?X-Amz-Credential=***&X-Amz-Signature=***" in run.stderr
    assert "SECRET" not in run.stderr
