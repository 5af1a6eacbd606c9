"""The Nexus plugin against a strict Nexus 3 facade over the real CNCF registry: an account that may
browse and one that may only pull, the main port, a context path and a connector port, both modes."""

from __future__ import annotations

import pytest
from tcs_registry_nexus import hooks
from tcs_registry_nexus.client import NexusClient

from tcs_registry.models import Credentials, Registry
from tcs_registry.pacing import PacedRetry
from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path, vulnerabilities
from tcs_registry.testing.vulnerable import DEBIAN9_FINDINGS

LOGIN = ["--username=ci", "--password=nexus-ci-password"]
PULLER = ["--username=puller", "--password=read-only-password"]


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


def test_every_docker_repository_with_search_paging(tcs, pm, nexus, nexus_expected, out_dir, monkeypatch):
    monkeypatch.setattr(nexus, "search_page", 2)
    before, pulls = len(nexus.requests), len(nexus.upstream_pulls)
    result = tcs("registry", nexus.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: NEXUS"
    assert csv_rows(report_path(out_dir, nexus.host)) == expected_rows(nexus.host, nexus_expected)
    requests = nexus.requests[before:]
    searched = [(r.arg("name"), r.arg("continuationToken")) for r in requests if r.path == "/service/rest/v1/search"]
    assert ("app", None) in searched and ("app", "2") in searched  # three tags, pages of two
    assert not any(r.path.startswith("/repository/docker-group/") for r in requests)  # groups repeat members
    # a hosted repository's own tag list is the one listed (the search's push times kept); a proxy's
    # would be the upstream registry's: the search says what it holds
    listed = sorted(r.path for r in requests if r.path.endswith("/tags/list"))
    assert listed == [
        f"/repository/docker-hosted/v2/{image}/tags/list" for image in ("app", "debian9", "multi", "team/api")
    ]
    assert nexus.upstream_pulls[pulls:] == []  # (nothing only the proxy's upstream registry has is read)


def test_a_repository_set_offline_is_read_around(tcs, pm, nexus, nexus_expected, out_dir, monkeypatch):
    """Nexus still lists a repository set offline (a retired mirror), which answers 503 to everything: the
    others are read (the first listed, asked at login, as one listed later), and the run ends partial
    with the line naming them (a 503 may be an outage as well)."""
    monkeypatch.setattr(nexus, "offline", ("docker-retired", "docker-old"))
    monkeypatch.setattr(PacedRetry, "get_backoff_time", lambda self: 0.0)  # (503s are retried: not this test's)
    result = tcs("registry", nexus.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 4, result.err
    assert csv_rows(report_path(out_dir, nexus.host)) == expected_rows(nexus.host, nexus_expected)
    assert (
        "error\tRepository listing stopped early after 6 repositories error=Nexus answered 503 for docker-retired, "
        "docker-old, left unread (a repository set offline answers so; name the repositories to read in the URL: "
        "https://<host>/repository/<name>)"
    ) in result.messages
    named = tcs("registry", f"{nexus.url}/repository/docker-old", "--mode=dry-run", *LOGIN, pm=pm)
    assert named.code == 3, named.err  # named in the URL: its error, not an empty run
    assert "answered 503" in named.messages[-1]


def test_one_repository_by_path(tcs, pm, nexus, nexus_expected, out_dir):
    result = tcs("registry", f"{nexus.url}/repository/docker-hosted", "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    hosted = [e for e in nexus_expected if e.repository.startswith("docker-hosted/")]
    assert csv_rows(report_path(out_dir, nexus.host)) == expected_rows(nexus.host, hosted)


@pytest.mark.parametrize(
    "lag", [{"unindexed": frozenset({"team/api", "app:1.2"})}, {"search_page": 2, "search_hits": 2}],
    ids=["an image and a tag not indexed yet", "past the search's most hits"],
)  # fmt: skip
def test_every_tag_of_a_hosted_repository_whatever_the_search_finds(
    tcs, pm, nexus, nexus_expected, out_dir, monkeypatch, lag
):
    for name, value in lag.items():
        monkeypatch.setattr(nexus, name, value)
    result = tcs("registry", f"{nexus.url}/repository/docker-hosted", "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    hosted = [e for e in nexus_expected if e.repository.startswith("docker-hosted/")]
    assert csv_rows(report_path(out_dir, nexus.host)) == expected_rows(nexus.host, hosted)


def test_connector_port(tcs, pm, nexus_connector, nexus_expected, out_dir):
    result = tcs("registry", nexus_connector.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: NEXUS"
    hosted = [e for e in nexus_expected if e.repository.startswith("docker-hosted/")]
    rows = csv_rows(report_path(out_dir, nexus_connector.host))
    assert rows[1:] == [
        [f"{nexus_connector.host}/{e.repository.split('/', 1)[1]}", e.tag, e.build_time, "false"]
        for e in sorted(hosted, key=lambda e: (e.repository.split("/", 1)[1], e.tag))
    ]


def test_wrong_password(tcs, pm, nexus):
    result = tcs(
        "registry",
        f"{nexus.url}/repository/docker-hosted",
        "--mode=dry-run",
        "--username=ci",
        "--password=wrong",
        pm=pm,
    )
    assert result.code == 3
    assert result.messages[-1] == "error\tthe registry refused the credentials of user 'ci', from --username/--password"


def test_an_account_that_may_only_pull_is_told_how(tcs, pm, nexus):
    """Nexus lists nothing to an account without browse rights: the line says what to do."""
    result = tcs("registry", nexus.url, "--mode=dry-run", *PULLER, pm=pm)
    assert result.code == 3
    assert result.messages[-1] == (
        "error\tno Docker repository is visible to this account: Nexus lists only the repositories an account may "
        "browse (nx-repository-view-docker-<name>-browse); with read rights alone, name the repository in the URL "
        "(https://<host>/repository/<name>)"
    )


def test_an_account_that_may_only_pull_reads_a_named_repository(tcs, pm, nexus, nexus_expected, out_dir):
    result = tcs("registry", f"{nexus.url}/repository/docker-hosted", "--mode=dry-run", *PULLER, pm=pm)
    assert result.code == 0, result.err
    hosted = [e for e in nexus_expected if e.repository.startswith("docker-hosted/")]
    assert csv_rows(report_path(out_dir, nexus.host)) == expected_rows(nexus.host, hosted)


@pytest.mark.parametrize("name", ["docker-proxy", "docker-group"])
def test_an_account_that_may_only_pull_is_refused_a_proxy_or_group_saying_why(tcs, pm, nexus, name):
    """Its search shows nothing, and a proxy's V2 tag list is the upstream registry's (a group's merges
    it): read through it, every upstream tag would be fetched into Nexus. One line, before any of it."""
    before, pulls = len(nexus.requests), len(nexus.upstream_pulls)
    result = tcs("registry", f"{nexus.url}/repository/{name}", "--mode=dry-run", *PULLER, pm=pm)
    assert result.code == 3, result.err
    upstream = (
        "the upstream registry's" if name == "docker-proxy" else "its members' merged, proxies' upstream ones too"
    )
    assert [m for m in result.messages if m.startswith("error")] == [
        f"error\t{name} is a {name.split('-')[1]} repository this account may pull from but not browse: its V2 tag"
        f" list is {upstream}, not what it holds, which only Nexus's search lists, for accounts that may browse it"
        f" (nx-repository-view-docker-{name}-browse)"
    ]
    assert nexus.upstream_pulls[pulls:] == []
    assert not [r.path for r in nexus.requests[before:] if r.path.endswith(("/tags/list", "/_catalog"))]
    # a repository that is no Docker one, named by mistake, is said as such
    maven = tcs("registry", f"{nexus.url}/repository/maven-releases", "--mode=dry-run", *PULLER, pm=pm)
    assert [m for m in maven.messages if m.startswith("error")] == [
        "error\tNexus repository maven-releases is not a Docker repository (its format: maven2)"
    ]


@pytest.mark.parametrize("path", ["/nexus", "/nexus/repository/docker-hosted"])
def test_a_context_path(tcs, pm, nexus_context, nexus_expected, out_dir, path):
    result = tcs("registry", f"{nexus_context.url}{path}", "--mode=dry-run", "--registry-type=nexus", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    keep = "docker-" if path == "/nexus" else "docker-hosted/"
    expected = [e for e in nexus_expected if e.repository.startswith(keep)]
    assert csv_rows(report_path(out_dir, nexus_context.host)) == expected_rows(nexus_context.host, expected)


@pytest.mark.parametrize("login", [LOGIN, PULLER], ids=["browse", "pull-only"])
def test_scan(tcs, pm, nexus, out_dir, vulnerability_database, login):
    result = tcs("registry", f"{nexus.url}/repository/docker-hosted", "--format=json", *login, pm=pm)
    assert result.code == 0, result.err
    assert vulnerabilities(out_dir, nexus.host, "docker-hosted/debian9", "1") == DEBIAN9_FINDINGS


@pytest.fixture
def anonymous_nexus(nexus, monkeypatch):
    """Anonymous access on, and the Docker Bearer Token Realm with forceBasicAuth off: what the README asks."""
    monkeypatch.setattr(nexus, "anonymous", True)
    monkeypatch.setattr(nexus, "bearer", True)
    return nexus


def test_anonymous_dry_run_of_the_whole_instance(tcs, pm, anonymous_nexus, nexus_expected, out_dir):
    """No credentials: Nexus runs the REST calls as its anonymous user (it may browse every repository), and
    the Docker repositories give it Bearer tokens: every image, as with an account."""
    nexus = anonymous_nexus
    before = len(nexus.requests)
    result = tcs("registry", nexus.url, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, nexus.host)) == expected_rows(nexus.host, nexus_expected)
    tokens = [r for r in nexus.requests[before:] if r.path.endswith("/v2/token")]
    assert tokens and all(r.headers.get("Authorization") is None for r in tokens)


def test_anonymous_scan(tcs, pm, anonymous_nexus, out_dir, vulnerability_database):
    nexus = anonymous_nexus
    result = tcs("registry", f"{nexus.url}/repository/docker-hosted", "--format=json", pm=pm)
    assert result.code == 0, result.err
    assert vulnerabilities(out_dir, nexus.host, "docker-hosted/debian9", "1") == DEBIAN9_FINDINGS


def test_anonymous_without_the_bearer_realm_is_refused_saying_so(tcs, pm, nexus, monkeypatch):
    """Anonymous access on, but forceBasicAuth left on (the default: sonatype/nexus-public#921): the
    repositories are listed, their images are not readable without credentials."""
    monkeypatch.setattr(nexus, "anonymous", True)
    result = tcs("registry", f"{nexus.url}/repository/docker-hosted", "--mode=dry-run", pm=pm)
    assert result.code == 3, result.err
    assert result.messages[-1] == (
        "error\tthe registry requires credentials: pass --username and --password (or --password-stdin)"
    )


def _client(nexus, *login: str) -> NexusClient:
    user, password = login or ("ci", LOGIN[1].partition("=")[2])
    client = NexusClient(Registry(nexus.url, "http", nexus.host, "", "NEXUS"), Credentials(user, password))
    client.login()
    return client


def test_a_proxy_repositorys_cache_date_is_no_push_time(nexus):
    """An asset's time on a proxy repository is when Nexus cached the image, not when it was pushed;
    on a hosted one it is (lastModified: the Elasticsearch search gives no blobCreated)."""
    client = _client(nexus)
    assert client.tags("docker-proxy/library/nginx") == ["1.27"]
    assert client.describe("docker-proxy/library/nginx", "1.27").push_time is None
    assert client.tags("docker-hosted/team/api") == ["v1"]
    assert client.describe("docker-hosted/team/api", "v1").push_time.isoformat() == "2025-05-30T08:20:00+00:00"


def test_a_proxys_tag_is_read_by_the_digest_nexus_holds(nexus):
    """By tag, a proxy whose metadata has aged asks the upstream registry whether the tag moved (and
    fetches what it finds): a proxy's tag is read by the digest the search found. A hosted one by tag
    (the search may lag behind a push)."""
    client, before = _client(nexus), len(nexus.requests)
    assert client.tags("docker-proxy/library/nginx") == ["1.27"]
    proxied = client.describe("docker-proxy/library/nginx", "1.27")
    assert client.tags("docker-hosted/team/api") == ["v1"]
    client.describe("docker-hosted/team/api", "v1")
    manifests = [r.path for r in nexus.requests[before:] if "/manifests/" in r.path]
    assert manifests == [
        f"/repository/docker-proxy/v2/library/nginx/manifests/{proxied.digest}",
        "/repository/docker-hosted/v2/team/api/manifests/v1",
    ]


def test_a_dry_run_reads_no_image_the_patterns_leave_out(tcs, pm, nexus, nexus_expected, out_dir):
    """Each manifest or blob read marks it downloaded (LastDownloadedHandler), which "last downloaded"
    cleanup policies go by: the images left out are reported undated, not read."""
    before = len(nexus.requests)
    result = tcs("registry", nexus.url, "--mode=dry-run", "--denyList=docker-proxy/*", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    denied = lambda e: e.repository.startswith("docker-proxy/")  # noqa: E731
    rows = expected_rows(nexus.host, nexus_expected, denied, dated_skipped=False)
    assert csv_rows(report_path(out_dir, nexus.host)) == rows
    assert not [r.path for r in nexus.requests[before:] if r.path.startswith("/repository/docker-proxy/v2/library")]


def test_a_proxy_lists_what_it_holds_not_the_upstream_tags(nexus, monkeypatch):
    """An image pulled through a proxy by digest only has no tag in Nexus: its V2 tag list, the upstream
    registry's, is not asked."""
    monkeypatch.setattr(nexus, "by_digest", frozenset({"library/nginx"}))
    client, before = _client(nexus), len(nexus.requests)
    assert client.tags("docker-proxy/library/nginx") == []
    assert not any(r.path.endswith("/tags/list") for r in nexus.requests[before:])


def test_a_group_lists_each_tag_once(nexus, monkeypatch):
    """A group's search hits are its members' (each naming its member): a tag two members hold is one
    tag, and one held by a proxy member has no push time."""
    monkeypatch.setattr(nexus, "search_page", 2)
    client = _client(nexus)
    assert client.tags("docker-group/app") == ["1.0", "1.1", "1.2"]
    assert client.tags("docker-group/library/nginx") == ["1.27"]
    assert client.describe("docker-group/app", "1.1").push_time.isoformat() == "2025-05-30T08:20:00+00:00"
    assert client.describe("docker-group/library/nginx", "1.27").push_time is None
    # held by both members: the group serves its first member's in its own order, which the search does
    # not follow (no push time, read by tag)
    before = len(nexus.requests)
    assert client.describe("docker-group/app", "1.0").push_time is None
    assert next(r.path for r in nexus.requests[before:] if "/manifests/" in r.path).endswith("/manifests/1.0")


def test_an_account_that_may_browse_a_group_alone_lists_the_group(nexus, monkeypatch):
    """It cannot see what the members are: no push time (a proxy member's would be when it cached the
    image), and an image the group holds by digest only is not looked up in the group's tags/list (it
    merges the proxy's: the upstream registry's)."""
    client = _client(nexus, "grouped", "group-only-password")
    assert client.keys == ["docker-group"]
    assert client.tags("docker-group/library/nginx") == ["1.27"]
    assert client.describe("docker-group/library/nginx", "1.27").push_time is None
    monkeypatch.setattr(nexus, "by_digest", frozenset({"library/nginx"}))
    before = len(nexus.requests)
    assert client.tags("docker-group/library/nginx") == []
    assert not any(r.path.endswith("/tags/list") for r in nexus.requests[before:])


def test_a_subdomain_connectors_host_names_its_repository():
    """Nexus Pro serves a repository at <subdomain>.<host>; its REST API answers there too, with the
    repositories' URLs on the main host."""
    registry = Registry(
        "https://docker-hosted.nexus.example.com", "https", "docker-hosted.nexus.example.com", "", "NEXUS"
    )
    client = NexusClient(registry, Credentials("ci", "x"))
    listed = [(n, f"https://nexus.example.com/repository/{n}") for n in ("docker-hosted", "docker-proxy")]
    assert client.subdomain_key(listed) == "docker-hosted"
    main = NexusClient(Registry("https://nexus.example.com", "https", "nexus.example.com", "", "NEXUS"), Credentials())
    assert main.subdomain_key(listed) is None


def test_whether_a_proxys_tag_is_still_there_is_not_asked_upstream(nexus):
    """A tag not found is looked for in its repository's V2 tag list again (deleted since it was listed):
    a hosted repository's says; a proxy's is the upstream registry's and a group's merges it, not asked
    (the image not found stays a failure)."""
    client, before = _client(nexus), len(nexus.requests)
    assert client.still_listed("docker-hosted/team/api", "v1")
    assert not client.still_listed("docker-hosted/team/api", "v9")
    assert client.still_listed("docker-proxy/library/nginx", "9.9")
    assert client.still_listed("docker-group/app", "9.9")
    lists = [r.path for r in nexus.requests[before:] if r.path.endswith("/tags/list")]
    assert lists == ["/repository/docker-hosted/v2/team/api/tags/list"] * 2
