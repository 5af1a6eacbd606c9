"""The Docker Hub plugin against faithful Hub API and registry facades over the real CNCF registry."""

from __future__ import annotations

import re
import time

import pytest
import tcs_registry_dockerhub.client
from tcs_registry_dockerhub import hooks

import tcs_registry.pacing
from tcs_registry import UsageError
from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path, vulnerabilities
from tcs_registry.testing.vulnerable import DEBIAN9_FINDINGS

ACCOUNT = ("acme", "dckr_pat_0123456789abcdef")
LOGIN = ("--registry-type=DOCKERHUB", f"--username={ACCOUNT[0]}", f"--password={ACCOUNT[1]}")


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


@pytest.mark.parametrize("anonymous_tags", [True, False], ids=["tags listed anonymously", "tags need a token"])
def test_official_images_anonymously(tcs, pm, hub, hub_expected, out_dir, monkeypatch, anonymous_tags):
    """The Hub API's reference gives its tags list bearerAuth alone (in practice public repositories'
    are listed without one): where it refuses them, the registry's /v2/ tags list (no pull) stands in."""
    api, registry = hub
    monkeypatch.setattr(api, "anonymous_tags", anonymous_tags)
    result = tcs("registry", f"{registry.url}/u/library", "--mode=dry-run", "--registry-type=dockerhub", pm=pm)
    assert result.code == 0, result.err
    library = [e for e in hub_expected if e.repository.startswith("library/")]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, library)
    assert not any(r.path.endswith("/_catalog") for r in registry.requests)  # Docker Hub has none
    warned = [m for m in result.messages if m.startswith("warn")]
    fallback = "warn\tThe Hub API lists no tags anonymously: tags come from the registry's /v2/ instead"
    assert warned == ([] if anonymous_tags else [fallback])


def test_own_namespace_from_the_user_name_with_private_repositories(tcs, pm, hub, hub_expected, out_dir, monkeypatch):
    api, registry = hub
    monkeypatch.setattr(tcs_registry_dockerhub.client, "PAGE_SIZE", 2)
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    acme = [e for e in hub_expected if e.repository.startswith("acme/")]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, acme)
    pages = [r.arg("page") for r in api.requests if r.path == "/v2/namespaces/acme/repositories"]
    assert pages == ["1", "2"]  # three repositories, pages of two, following "next"
    manifest_gets = [r for r in registry.requests if r.method == "GET" and "/manifests/" in r.path]
    assert len(manifest_gets) == len(acme)  # one counted pull per image, the index included
    # what the dry run says a scan would spend of the pull quota is what the scan then spends
    estimated = [line for line in result.out.splitlines() if line.startswith("    Docker Hub pulls")]
    assert len(estimated) == 1 and re.fullmatch(
        r" +Docker Hub pulls +: a scan would spend about 8, of \d+ left now", estimated[0]
    )
    registry.requests.clear()
    assert tcs("registry", registry.url, *LOGIN, pm=pm).code == 0
    assert len([r for r in registry.requests if r.method == "GET" and "/manifests/" in r.path]) == 8


def test_pull_quota_stops_politely(tcs, pm, hub, out_dir, monkeypatch):
    _api, registry = hub
    monkeypatch.setattr(registry, "pull_limit", 3)
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, "--concurrency=1", pm=pm)
    assert result.code == 4
    errors = [m for m in result.messages if m.startswith("error\t")]
    assert errors == [
        "error\tStopping: Docker Hub's pull quota is used up for this account; run again when the window resets",
        "error\t2 admitted images were left undone; run again when the quota allows it",
    ]
    assert "Left undone           : 2\n" in result.out
    # three pulls describe four tags: acme/api 1.1 and latest share a digest, whose manifest is read once
    assert len(csv_rows(report_path(out_dir, registry.host))) == 1 + 4
    assert registry.pulls["acme"] == 3  # nothing was asked once the quota header said 0


@pytest.mark.parametrize(
    "login",
    [LOGIN, (*LOGIN[:2], "--password=dckr_oat_everything"), ()],
    ids=["personal access token", "organization access token", "anonymous"],
)
def test_scan(tcs, pm, hub, hub_expected, out_dir, vulnerability_database, login):
    _api, registry = hub
    path = "/r/acme/debian9" if login else "/_/alpine"  # anonymous: public repositories
    result = tcs("registry", f"{registry.url}{path}", "--registry-type=DOCKERHUB", "--format=json", *login, pm=pm)
    assert result.code == 0, result.err
    if login:
        assert vulnerabilities(out_dir, registry.host, "acme/debian9", "1") == DEBIAN9_FINDINGS
    scanned = [m for m in result.infos if m.startswith("info\tScanned image")]
    assert len(scanned) == (1 if login else 2)


def test_wrong_token(tcs, pm, hub):
    _api, registry = hub
    result = tcs(
        "registry",
        registry.url,
        "--mode=dry-run",
        "--registry-type=DOCKERHUB",
        "--username=acme",
        "--password=dckr_pat_wrong",
        pm=pm,
    )
    assert result.code == 3
    assert result.messages[-1] == "error\tDocker Hub refused the credentials of user 'acme', from --username/--password"


@pytest.mark.parametrize(
    "url",
    [
        "https://hub.docker.com/u/acme",
        "https://docker.io/acme",
        "https://index.docker.io",
        "https://registry-1.docker.io",
        "https://registry.hub.docker.com",
    ],
)
def test_recognised_by_name_without_a_request(url):
    assert hooks.plugin.sniff(url, None).registry_type == "DOCKERHUB"  # decided without any request


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://hub.docker.com/repository/docker/acme/api/general", ("acme", "api")),
        ("https://hub.docker.com/r/acme/api", ("acme", "api")),
        ("https://hub.docker.com/r/acme/api/tags", ("acme", "api")),
        ("https://hub.docker.com/_/alpine", ("library", "alpine")),
        ("https://hub.docker.com/layers/library/alpine/3.20/images/sha256-0123", ("library", "alpine")),
        ("https://hub.docker.com/u/Acme", ("acme", None)),
        ("https://hub.docker.com/orgs/acme/repositories", ("acme", None)),
        ("https://hub.docker.com/repositories/acme", ("acme", None)),
        ("https://hub.docker.com/acme", ("acme", None)),
        ("https://hub.docker.com/layers/nginx/library/nginx/1.19.3-alpine/images/sha256-0123", ("library", "nginx")),
        ("https://hub.docker.com/r/bitnami", ("bitnami", None)),
        ("https://docker.io/alpine", ("library", "alpine")),
        ("https://docker.io/acme/api", ("acme", "api")),
        ("https://docker.io/bitnami/redis:7.2", ("bitnami", "redis")),
        ("https://docker.io/library/alpine@sha256:" + "0" * 64, ("library", "alpine")),
        ("https://index.docker.io/library/alpine", ("library", "alpine")),
        ("https://index.docker.io/v1/", ("bob", None)),
        ("https://docker.io/r/acme/api", None),  # on the registry: an image name of three parts
        ("https://registry-1.docker.io", ("bob", None)),
    ],
)
def test_the_urls_people_paste(url, expected):
    from urllib.parse import urlsplit

    from tcs_registry_dockerhub.client import target

    parts = urlsplit(url)
    if expected is None:
        with pytest.raises(UsageError, match="which Docker Hub repository is '/r/acme/api'"):
            target(parts.hostname, parts.path, "bob")
    else:
        assert target(parts.hostname, parts.path, "bob") == expected


@pytest.mark.parametrize("path", ["/search", "/explore", "/settings/general", "/_/"])
def test_pages_that_name_no_repository_are_refused(path):
    from tcs_registry_dockerhub.client import target

    with pytest.raises(UsageError, match="is not a Docker Hub namespace or repository page"):
        target("hub.docker.com", path, "bob")


def test_namespace_from_the_environment(monkeypatch):
    from tcs_registry_dockerhub.client import target

    monkeypatch.setenv("TCS_DOCKERHUB_NAMESPACE", "team")
    assert target("docker.io", "", "bob") == ("team", None)


@pytest.mark.parametrize(
    ("path", "repository"),
    [
        ("/r/acme/api", "acme/api"),
        ("/_/alpine", "library/alpine"),
        ("/layers/library/alpine/3.20/images/x", "library/alpine"),
    ],
)
def test_a_url_naming_one_repository_lists_it_alone(tcs, pm, hub, hub_expected, out_dir, path, repository):
    api, registry = hub
    before = len(api.requests)
    result = tcs("registry", f"{registry.url}{path}", "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    named = [e for e in hub_expected if e.repository == repository]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, named)
    assert not any(r.path.endswith("/repositories") for r in api.requests[before:])


def test_the_hub_apis_per_minute_limit_is_waited_out(tcs, pm, hub, hub_expected, out_dir, monkeypatch):
    """A 429 from the Hub API is its per-minute limit (Retry-After), not the pull quota: wait, go on."""
    api, registry = hub
    monkeypatch.setattr(api, "per_minute", 2)
    monkeypatch.setattr(api, "window", 1.0)
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    acme = [e for e in hub_expected if e.repository.startswith("acme/")]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, acme)
    # waited out, each wait said; the pulls' pace is not the API's
    assert not [m for m in result.messages if "(429)" in m and not m.startswith("info\tDocker Hub's API")]
    assert [m for m in result.infos if m.startswith("info\tDocker Hub's API asks for fewer requests (429)")]


def test_a_login_past_the_apis_per_minute_limit_is_waited_out(tcs, pm, hub, hub_expected, out_dir, monkeypatch):
    """The login is a Hub API call like any other, under the same per-minute limit: a 429 to it is waited
    out (its Retry-After) and the login asked again, not the run's end."""
    api, registry = hub
    monkeypatch.setattr(api, "per_minute", 3)
    monkeypatch.setattr(api, "window", 1.0)
    monkeypatch.setattr(api, "_calls", [time.time()] * 3)  # the account's other clients spent this second's calls
    before = len(api.requests)
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    acme = [e for e in hub_expected if e.repository.startswith("acme/")]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, acme)
    logins = [r for r in api.requests[before:] if r.path == "/v2/auth/token"]
    assert len(logins) == 2  # refused, waited out, asked again


def test_a_429_without_retry_after_is_waited_out_by_its_reset_time(tcs, pm, hub, hub_expected, out_dir, monkeypatch):
    """A 429 with X-RateLimit-Reset alone (a Unix time, whole seconds; urllib3 does not wait it out): the
    plugin waits until then, a second at least, and asks again; the login too."""
    api, registry = hub
    monkeypatch.setattr(api, "per_minute", 2)
    monkeypatch.setattr(api, "window", 1.0)
    monkeypatch.setattr(api, "retry_after", None)
    monkeypatch.setattr(api, "_calls", [time.time()] * 2)
    before = len(api.requests)
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    acme = [e for e in hub_expected if e.repository.startswith("acme/")]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, acme)
    assert [r.path for r in api.requests[before:]][:2] == ["/v2/auth/token"] * 2
    waits = [m for m in result.infos if "Docker Hub's API asks for fewer requests (429)" in m]
    assert waits and all(m.endswith("waiting 1 s") for m in waits)


@pytest.mark.parametrize(
    ("retry_after", "said"),
    [
        ("x-unix", r"Docker Hub's API refuses calls \(429\) for (899|900) s more; run again then"),
        (
            "seconds",
            r"Docker Hub login: rate limited by the registry \(429\) \(Too Many Requests\); it asks to be asked"
            r" again in (899|900) s, run again then",
        ),
    ],
)
def test_a_login_asked_to_wait_minutes_is_refused_at_once(tcs, pm, hub, monkeypatch, retry_after, said):
    """A wait of minutes (latest.yaml's X-Retry-After, or a Retry-After in seconds) is the answer, not a
    wait: one login, one error line saying so."""
    api, registry = hub
    monkeypatch.setattr(api, "per_minute", 1)
    monkeypatch.setattr(api, "window", 900.0)
    monkeypatch.setattr(api, "retry_after", retry_after)
    monkeypatch.setattr(api, "_calls", [time.time()])
    before = len(api.requests)
    started = time.monotonic()
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert (result.code, time.monotonic() - started < 10) == (3, True), result.err
    assert [r.path for r in api.requests[before:]] == ["/v2/auth/token"]
    assert re.fullmatch(f"error\t{said}", result.messages[-1]), result.messages[-1]


def test_the_api_token_is_renewed_between_pages(tcs, pm, hub, hub_expected, out_dir, monkeypatch):
    """Tokens of two seconds, pages that take half a second: a listing outlives its token."""
    api, registry = hub
    monkeypatch.setattr(api, "token_lifetime", 2)
    monkeypatch.setattr(api, "delay", 0.5)
    monkeypatch.setattr(tcs_registry_dockerhub.client, "PAGE_SIZE", 1)
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, "--concurrency=1", pm=pm)
    assert result.code == 0, result.err
    acme = [e for e in hub_expected if e.repository.startswith("acme/")]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, acme)
    assert api.refused == 0
    logins = [r for r in api.requests if r.method == "POST" and r.path == "/v2/auth/token"]
    assert len(logins) >= 2


def test_skipped_rows_cost_no_pull(tcs, pm, hub, hub_expected, out_dir):
    """A dry run dates the images it leaves out elsewhere; on Docker Hub that would cost a pull each."""
    _api, registry = hub
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, "--denyList=acme/api", pm=pm)
    assert result.code == 0, result.err
    acme = [e for e in hub_expected if e.repository.startswith("acme/")]
    skipped = lambda e: e.repository == "acme/api"  # noqa: E731
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(
        registry.host, acme, skipped, dated_skipped=False
    )
    assert not any("/acme/api/manifests/" in r.path for r in registry.requests)


def test_a_mirror_password_never_goes_to_docker_hub(tcs, pm, hub, monkeypatch):
    api, registry = hub
    monkeypatch.delenv("TCS_DOCKERHUB_API_URL")
    monkeypatch.setattr(tcs_registry_dockerhub.client, "HUB_API", api.url)  # where the Hub would be
    before = len(api.requests)
    tcs(
        "registry",
        f"{registry.url}/u/library",
        "--mode=dry-run",
        "--registry-type=DOCKERHUB",
        "--username=alice",
        "--password=mirror-secret",
        pm=pm,
    )
    assert [r.path for r in api.requests[before:] if r.method == "POST"] == []
    assert all(r.headers.get("Authorization") is None for r in api.requests[before:])


@pytest.mark.parametrize("refused", ["abusive", "abusive_blobs"], ids=["manifests", "blobs"])
def test_the_abuse_limits_bare_429_is_waited_out_not_taken_for_the_quota(
    tcs, pm, hub, hub_expected, out_dir, monkeypatch, refused
):
    """Docker Hub's abuse limit answers "a simple 429", for paid accounts too; the pull quota "a longer
    error message" (TOOMANYREQUESTS). The first is a registry asking for fewer requests: the run slows
    down and asks again, and ends complete; it is not told to log in. It is the registry's limit, not the
    pulls': a config blob refused so is asked again as a manifest is (no 429 is retried below the
    plugin, which asks again only where it knows the pull quota is not it)."""
    _, registry = hub
    setattr(registry, refused, 2)  # (all asked for by the end)
    monkeypatch.setattr(registry, "abuse_retry_after", "1")
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, "--concurrency=1", pm=pm)
    assert result.code == 0, result.err
    acme = [e for e in hub_expected if e.repository.startswith("acme/")]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, acme)
    assert getattr(registry, refused) == 0
    assert not [m for m in result.messages if "quota" in m], result.messages


def test_the_abuse_limits_429_is_asked_again_four_times_not_more(tcs, pm, hub, hub_expected, out_dir, monkeypatch):
    """Its Retry-After is obeyed by the plugin's own asks (four), not by urllib3's as well: it retries any
    429 with a Retry-After, whatever the client's list of statuses, and so sent up to 28 asks."""
    _, registry = hub
    registry.abusive = 4  # (all asked for by the end)
    monkeypatch.setattr(registry, "abuse_retry_after", "1")
    before = len(registry.requests)
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, "--concurrency=1", pm=pm)
    assert result.code == 4, result.err
    gets = [r for r in registry.requests[before:] if r.method == "GET" and "/manifests/" in r.path]
    assert len({r.path for r in gets[:4]}) == 1  # one image, asked four times, then failed
    assert registry.abusive == 0 and gets[4].path != gets[0].path  # then the next image, at once
    failed = [m for m in result.messages if m.startswith("error\tFailed")]
    assert len(failed) == 1 and "429" in failed[0], result.messages


def test_a_retry_after_that_is_a_unix_time_is_waited_out_till_then(tcs, pm, hub, hub_expected, out_dir, monkeypatch):
    """docker/hub-feedback#2459: the Hub API's Retry-After carried its reset time (a Unix time), not
    seconds; read as seconds it asked for 55 years and the listing was lost."""
    api, registry = hub
    monkeypatch.setattr(api, "per_minute", 2)
    monkeypatch.setattr(api, "window", 1.0)
    monkeypatch.setattr(api, "retry_after", "unix")
    monkeypatch.setattr(api, "_calls", [time.time()] * 2)
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    acme = [e for e in hub_expected if e.repository.startswith("acme/")]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, acme)
    waits = [m for m in result.infos if "Docker Hub's API asks for fewer requests (429)" in m]
    assert waits and all(m.endswith("waiting 1 s") for m in waits)


def test_the_hub_apis_429s_never_stop_the_run_as_a_starved_registry(tcs, pm, hub, hub_expected, out_dir, monkeypatch):
    """A listing that meets nothing but the Hub API's per-minute 429s for longer than the registry may
    answer nothing but 429 (5 minutes; here 3 s) waits them out: they are the API's, not the registry's."""
    api, registry = hub
    monkeypatch.setattr(tcs_registry.pacing, "STARVED", 3.0)
    monkeypatch.setattr(tcs_registry.pacing, "STILL", 2.0)
    monkeypatch.setattr(tcs_registry_dockerhub.client, "PAGE_SIZE", 1)
    monkeypatch.setattr(api, "per_minute", 2)
    monkeypatch.setattr(api, "window", 1.0)
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, "--concurrency=1", "--denyList=acme/*", pm=pm)
    assert result.code == 0, result.err
    assert not [m for m in result.messages if "nothing but 429" in m]
    acme = [e for e in hub_expected if e.repository.startswith("acme/")]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, acme, lambda e: True, False)


def test_listing_entries_of_images_left_out_give_their_place_up(tcs, pm, hub, out_dir, monkeypatch):
    """What the Hub's listing said of each tag (its digest, platforms, push time) waits in a bounded cache
    for its image to be described; an entry pushed out costs a pull by tag. The tags the patterns leave out
    give their place up as soon as their repository is listed: none is left at the end."""
    from tcs_registry.discovery import Discovery

    _, registry = hub
    runs = []
    run = Discovery.run
    monkeypatch.setattr(Discovery, "run", lambda self, *args: runs.append(self) or run(self, *args))
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, "--allowList=acme/debian9", pm=pm)
    assert result.code == 0, result.err
    assert len(runs[0].client.listed) == 0


@pytest.mark.parametrize(
    ("oat", "private", "tags_refused"),
    [
        ("dckr_oat_everything", True, False),
        ("dckr_oat_no-repository-list", False, False),  # the Hub lists the public ones only, silently
        ("dckr_oat_no-tag-read", True, True),
    ],
)
def test_an_organization_access_token(tcs, pm, hub, hub_expected, out_dir, oat, private, tags_refused):
    """An OAT logs in with the organization's name; what it reads is what its scopes allow."""
    _, registry = hub
    login = ("--registry-type=DOCKERHUB", f"--username={ACCOUNT[0]}", f"--password={oat}")
    result = tcs("registry", registry.url, "--mode=dry-run", *login, pm=pm)
    acme = [e for e in hub_expected if e.repository.startswith("acme/")]
    shown = [e for e in acme if private or e.repository != "acme/private-tool"]
    if tags_refused:
        assert result.code == 4, result.err
        failed = [m for m in result.messages if m.startswith("error\tFailed to list tags")]
        said = 'refused to the organization access token (403): it needs the "Tag Read" scope (scope-tag-read)'
        assert len(failed) == len({e.repository for e in acme}) and all(said in m for m in failed), failed
        return
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, shown)
