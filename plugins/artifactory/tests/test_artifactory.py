"""The Artifactory plugin against a strict Artifactory facade over the real CNCF registry: every way in,
every URL form, both modes; remote repositories from their caches, never from their upstream."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from tcs_registry_artifactory import hooks

from tcs_registry import pacing
from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path, sorted_report, vulnerabilities
from tcs_registry.testing.vulnerable import DEBIAN9_FINDINGS

ACCESS_TOKEN = "eyJ2ZXIiOiIyIn0.access-token"
API_KEY, OLD_API_KEY = "AKCp8" + "k" * 68, "AKCp5" + "q" * 68
PASSWORD = ["--username=deployer", "--password=Passw0rd!"]
WAYS_IN = {
    "password": PASSWORD,
    "identity-token": ["--username=ci", "--password=identity-token-for-ci"],
    "access-token": [f"--password={ACCESS_TOKEN}"],
    "access-token-with-its-user": ["--username=ci", f"--password={ACCESS_TOKEN}"],
    "api-key": [f"--password={API_KEY}"],  # (a Basic password with no user name: never a Bearer token)
    "api-key-with-its-user": ["--username=deployer", f"--password={API_KEY}"],
    "older-api-key": [f"--password={OLD_API_KEY}"],
}


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


def rows(facade, expected, keep=lambda e: True):
    return expected_rows(facade.host, [e for e in expected if keep(e)])


@pytest.mark.parametrize(
    "credentials",
    list(WAYS_IN.values()),
    ids=list(WAYS_IN),
)
def test_every_docker_repository_of_the_instance(
    tcs, pm, artifactory, artifactory_expected, out_dir, credentials, monkeypatch
):
    """Local and federated repositories through their catalogs, the remote one from its cache (not
    library/nginx, which only its upstream has), the virtual one not at all."""
    monkeypatch.setattr(artifactory, "catalog_max", 2)
    before, walks = len(artifactory.requests), len(artifactory.upstream_walks)
    result = tcs("registry", artifactory.url, "--mode=dry-run", *credentials, pm=pm)
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: ARTIFACTORY"
    assert sorted_report(out_dir, artifactory.host) == rows(artifactory, artifactory_expected)  # by key
    paths = [r.path for r in artifactory.requests[before:]]
    assert "/artifactory/api/docker/docker/v2/_catalog" not in paths  # the virtual repository is skipped
    assert paths.count("/artifactory/api/docker/docker-local/v2/_catalog") == 2  # 4 images, pages of 2
    assert artifactory.upstream_walks[walks:] == []
    assert "info\tListing the remote repository docker-remote from its cache: 1 image" in result.infos


def test_a_server_before_6_2_lists_every_package_type_and_only_docker_is_read(
    tcs, pm, artifactory, artifactory_expected, out_dir, monkeypatch
):
    """Get Repositories took packageType in 6.2.0: before, a Maven or npm repository is listed too, each
    saying its type; its Docker catalog is not asked for (a partial run, before)."""
    monkeypatch.setattr(artifactory, "package_type_filter", False)
    before = len(artifactory.requests)
    result = tcs("registry", artifactory.url, "--mode=dry-run", *WAYS_IN["password"], pm=pm)
    assert result.code == 0, result.err
    assert sorted_report(out_dir, artifactory.host) == rows(artifactory, artifactory_expected)
    assert not [r.path for r in artifactory.requests[before:] if "release-local" in r.path or "npm" in r.path]


@pytest.mark.parametrize(
    ("form", "keep"),
    [
        ("/artifactory/api/docker/docker-local", lambda e: e.repository.startswith("docker-local/")),
        ("/docker-local", lambda e: e.repository.startswith("docker-local/")),
        ("/artifactory/docker-local", lambda e: e.repository.startswith("docker-local/")),
        ("/artifactory/api/docker/docker-local/v2/app", lambda e: e.repository == "docker-local/app"),
        ("/docker-local/team/svc", lambda e: e.repository == "docker-local/team/svc"),
        ("/v2/docker-local/team/svc", lambda e: e.repository == "docker-local/team/svc"),
        ("/docker-remote", lambda e: e.repository.startswith("docker-remote/")),
        # a remote's image, from its cache; one only its upstream has is not walked there
        ("/docker-remote/library/busybox", lambda e: e.repository == "docker-remote/library/busybox"),
        ("/docker-remote/library/nginx", lambda e: False),
    ],
)
def test_the_urls_artifactory_gives(tcs, pm, artifactory, artifactory_expected, out_dir, form, keep):
    walks = len(artifactory.upstream_walks)
    result = tcs("registry", artifactory.url + form, "--mode=dry-run", *PASSWORD, "--registry-type=artifactory", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, artifactory.host)) == rows(artifactory, artifactory_expected, keep)
    assert artifactory.upstream_walks[walks:] == []


def test_a_url_naming_a_tag_says_how_to_keep_one(tcs, pm, artifactory, out_dir):
    """`docker pull`'s reference pasted whole: the tag is not taken for part of the image's name (a
    repository 'library/busybox:1.36' that is not there); the run is refused before it begins."""
    asked = len(artifactory.requests)
    url = f"{artifactory.url}/docker-remote/library/busybox:1.36"
    result = tcs("registry", url, "--mode=dry-run", *PASSWORD, "--registry-type=artifactory", pm=pm)
    assert result.code == 2, result.err
    assert result.messages[-1] == (
        "error\tthe URL path names 'library/busybox:1.36', with its tag: a URL names a repository or an image (every"
        " tag of it); for one tag, name the image alone and add --allowList='*:1.36'"
    )
    assert len(artifactory.requests) == asked
    pasted = tcs("registry", f"{artifactory.url}/busybox:1.36", "--registry-type=artifactory", *PASSWORD, pm=pm)
    assert pasted.code == 2 and pasted.messages[-1].startswith("error\tthe URL path names 'busybox:1.36', with its tag")
    kept = tcs("registry", url.removesuffix(":1.36"), "--mode=dry-run", "--allowList=*:1.36", *PASSWORD, pm=pm)
    assert kept.code == 0, kept.err  # (the hint followed: that tag kept)
    assert [row[1:4:2] for row in csv_rows(report_path(out_dir, artifactory.host))[1:]] == [["1.36", "false"]]
    digest = tcs(
        "registry", f"{artifactory.url}/docker-local/app@sha256:{'0' * 64}", "--registry-type=artifactory", pm=pm
    )
    assert digest.code == 2 and digest.messages[-1].startswith(
        "error\tmalformed registry URL: its path ends with a digest"
    )


def test_a_repository_by_the_subdomain_method(tcs, pm, artifactory_subdomain, artifactory_expected, out_dir):
    """docker-local.art.example.com: the repository's V2 API at the host's root, names without the key."""
    result = tcs("registry", artifactory_subdomain.url, "--mode=dry-run", *PASSWORD, pm=pm)
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: ARTIFACTORY"
    local = [e for e in artifactory_expected if e.repository.startswith("docker-local/")]
    at_root = [type(e)(e.repository.split("/", 1)[1], e.tag, e.build_time, e.digest_group) for e in local]
    assert csv_rows(report_path(out_dir, artifactory_subdomain.host)) == expected_rows(
        artifactory_subdomain.host, at_root
    )


@pytest.mark.parametrize(
    "credentials",
    list(WAYS_IN.values()),
    ids=list(WAYS_IN),
)
def test_scan(tcs, pm, artifactory, out_dir, vulnerability_database, credentials):
    result = tcs("registry", f"{artifactory.url}/docker-local/debian9", "--format=json", *credentials, pm=pm)
    assert result.code == 0, result.err
    assert vulnerabilities(out_dir, artifactory.host, "docker-local/debian9", "1") == DEBIAN9_FINDINGS


def test_an_access_token_with_another_user_is_refused(tcs, pm, artifactory):
    """Artifactory takes an access token as a Basic password only with the user it was made for."""
    result = tcs(
        "registry", artifactory.url, "--mode=dry-run", "--username=deployer", f"--password={ACCESS_TOKEN}", pm=pm
    )
    assert result.code == 3
    assert result.messages[-1] == (
        "error\tArtifactory Docker repositories: the registry refused the credentials of user 'deployer', from "
        "--username/--password (Bad credentials)"
    )


def test_wrong_password(tcs, pm, artifactory):
    result = tcs(
        "registry",
        artifactory.url + "/artifactory/api/docker/docker-local",
        "--mode=dry-run",
        "--username=deployer",
        "--password=wrong",
        pm=pm,
    )
    assert result.code == 3
    assert result.messages[-1] == (
        "error\tthe registry's token service refused the credentials of user 'deployer', from --username/--password"
    )


def test_recognised_without_a_telling_url(tcs, pm, artifactory):
    """The bare host answers /v2/ with X-JFrog-Version: no vendor probe is needed."""
    before = len(artifactory.requests)
    result = tcs("registry", artifactory.url, "--mode=dry-run", pm=pm)
    assert result.infos[0] == "info\tIdentified registry as: ARTIFACTORY"
    assert "/artifactory/api/system/ping" not in [r.path for r in artifactory.requests[before:]]
    assert result.code == 3  # anonymous: the repository listing wants credentials


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("docker-local.art.example.com", "docker-local"),  # the subdomain method
        ("acme-docker-local.jfrog.io", "docker-local"),  # JFrog Cloud's <server>-<key>
        ("art.example.com", None),  # the main host: the repository path method
        ("docker.example.com", None),  # named like no repository
        ("dev.art.example.com", "dev"),  # a remote's own subdomain (its url is its upstream's)
    ],
)
def test_a_host_named_after_a_repository_is_its_own(host, key):
    """The repositories' URLs name Artifactory's main host; another host named after a key serves it. A
    remote's URL is its upstream's: it counts as on the main host, never a sign of another one."""
    from tcs_registry_artifactory.client import ArtifactoryClient, repository_urls

    from tcs_registry.models import Credentials, Registry

    main = "art.example.com" if not host.endswith(".jfrog.io") else "acme.jfrog.io"
    client = ArtifactoryClient(Registry(f"https://{host}", "https", host, "", "ARTIFACTORY"), Credentials())
    listed = [{"key": k, "type": "LOCAL", "url": f"https://{main}/artifactory/{k}"} for k in ("local", "docker-local")]
    listed.append({"key": "dev", "type": "REMOTE", "url": "https://registry-1.docker.io/"})
    assert client.subdomain_key(repository_urls(listed)) == key  # (`local` first: the longest key that fits wins)


def test_a_remote_on_the_instances_own_host_is_not_its_subdomain():
    """JFrog Cloud's `<server>-<key>.jfrog.io` form: on `acme-dev.jfrog.io` itself (the locals' URLs name
    it), a remote `dev` is not the host's repository, though its upstream URL names another host."""
    from tcs_registry_artifactory.client import ArtifactoryClient, repository_urls

    from tcs_registry.models import Credentials, Registry

    host = "acme-dev.jfrog.io"
    client = ArtifactoryClient(Registry(f"https://{host}", "https", host, "", "ARTIFACTORY"), Credentials())
    listed = [
        {"key": "docker-local", "type": "LOCAL", "url": f"https://{host}/artifactory/docker-local"},
        {"key": "dev", "type": "REMOTE", "url": "https://registry-1.docker.io/"},
    ]
    assert client.subdomain_key(repository_urls(listed)) is None


def test_one_unreadable_remote_cache_leaves_the_rest_listed(
    tcs, pm, artifactory, artifactory_expected, out_dir, monkeypatch
):
    monkeypatch.setattr(artifactory, "file_list_refused", True)
    result = tcs("registry", artifactory.url, "--mode=dry-run", *PASSWORD, pm=pm)
    assert result.code == 4, result.err
    kept = [e for e in artifactory_expected if not e.repository.startswith("docker-remote/")]
    assert sorted_report(out_dir, artifactory.host) == rows(artifactory, kept)
    assert [m.split(" error=")[0] for m in result.messages if m.startswith("error")] == [
        "error\tListing the Docker repository docker-remote failed",
        "error\tRepository listing stopped early after 5 repositories",
    ]


def test_a_quota_spent_while_listing_stops_the_run_once(tcs, pm, artifactory, out_dir, monkeypatch):
    """Artifactory's rate limiting refuses with 429 (jfrog.com/help, "Protecting Self-Hosted Artifactory
    from AQL Issues with Rate Limiting"; JFrog Cloud's fair-use throttling too). Past docker-local's catalog
    every request is refused;
    once the registry has answered nothing but 429 for STARVED seconds (here 2), the run stops, with one
    line: the Docker repositories not yet listed are not each reported failed, the stop is the reason."""
    monkeypatch.setattr(pacing, "STARVED", 2.0)
    catalogs: list[str] = []

    def spent(request):
        if catalogs:
            return 429, {"Content-Type": "text/plain"}, b"Too Many Requests"
        if request.path == "/artifactory/api/docker/docker-local/v2/_catalog":
            catalogs.append(request.path)  # answered; every request after it is refused
        return None

    monkeypatch.setattr(artifactory, "routes", [("GET", re.compile(".*"), spent), *artifactory.routes])
    result = tcs("registry", artifactory.url, "--mode=dry-run", *PASSWORD, pm=pm)
    assert result.code == 4, result.err
    assert [m for m in result.messages if m.startswith("error")] == [
        "error\tStopping: the registry has answered nothing but 429 (too many requests) for 0.0 minutes;"
        " the listing is incomplete after 4 repositories",
        "error\tThe listing is incomplete (no image listed was left undone); run again when the quota allows it",
    ]
    assert csv_rows(report_path(out_dir, artifactory.host)) == [["repository", "tag", "build_time", "skipped"]]


def _the_remote_is_read_from_its_cache(tcs, pm, artifactory, expected, out_dir) -> int:
    """/docker-remote read from its cache, its upstream not walked; the walks before, for more checks."""
    walks = len(artifactory.upstream_walks)
    result = tcs("registry", f"{artifactory.url}/docker-remote", "--mode=dry-run", *PASSWORD, pm=pm)
    assert result.code == 0, result.err
    remote = [e for e in expected if e.repository.startswith("docker-remote/")]
    assert csv_rows(report_path(out_dir, artifactory.host)) == rows(artifactory, remote)
    assert artifactory.upstream_walks[walks:] == []
    return walks


def test_a_remote_named_when_the_repository_list_is_refused_is_read_from_its_cache(
    tcs, pm, artifactory, artifactory_expected, out_dir, monkeypatch
):
    """Get Repositories refused: the key the URL names is a remote if it has a cache (`<key>-cache`), and a
    remote's own lists would ask its upstream registry (JFrog's "List Docker Repositories")."""
    monkeypatch.setattr(artifactory, "repositories_refused", True)
    _the_remote_is_read_from_its_cache(tcs, pm, artifactory, artifactory_expected, out_dir)
    local = tcs("registry", f"{artifactory.url}/docker-local", "--mode=dry-run", *PASSWORD, pm=pm)
    assert local.code == 0, local.err  # (no cache: not a remote, listed by its catalog)
    assert not [m for m in local.messages if "Cannot tell" in m]


def test_a_remote_the_repository_list_leaves_out_is_read_from_its_cache(
    tcs, pm, artifactory, artifactory_expected, out_dir, monkeypatch
):
    """Get Repositories lists only the repositories the account may read at their root: a remote named in
    the URL that it leaves out is still a remote (it has a cache), not walked upstream."""
    monkeypatch.setattr(artifactory, "below_root", frozenset({"docker-remote"}))
    walks = _the_remote_is_read_from_its_cache(tcs, pm, artifactory, artifactory_expected, out_dir)
    # and as a virtual repository's member: still one whose lists would walk its upstream
    virtual = tcs("registry", f"{artifactory.url}/docker", "--mode=dry-run", *PASSWORD, pm=pm)
    assert virtual.code == 0, virtual.err
    assert sorted_report(out_dir, artifactory.host) == rows(artifactory, artifactory_expected)
    assert artifactory.upstream_walks[walks:] == []


def test_a_remote_cache_without_the_file_list_says_why(
    tcs, pm, artifactory, artifactory_expected, out_dir, monkeypatch
):
    """An edition without the REST add-on answers File List with a plain-text 400: its words are the
    reason; the other repositories are listed, and the run says which one was not."""
    monkeypatch.setattr(artifactory, "file_list_pro_only", True)
    result = tcs("registry", artifactory.url, "--mode=dry-run", *PASSWORD, pm=pm)
    assert result.code == 4, result.err
    kept = [e for e in artifactory_expected if not e.repository.startswith("docker-remote/")]
    assert sorted_report(out_dir, artifactory.host) == rows(artifactory, kept)
    errors = [m for m in result.messages if m.startswith("error")]
    assert "This REST API is available only in Artifactory Pro" in errors[0], errors
    assert "could not list 1 of 3 Docker repositories (docker-remote): cache of the remote" in errors[1], errors


def test_a_remotes_images_left_out_are_not_described(tcs, pm, artifactory, artifactory_expected, out_dir):
    """A dry run describes the images the patterns leave out, for their build time, but not a remote's:
    what its cache lacks (a platform never pulled, metadata expired) Artifactory fetches upstream, a pull
    there. Its rows say skipped with no build time; a local's are dated as before."""
    before = len(artifactory.requests)
    result = tcs("registry", artifactory.url, "--mode=dry-run", *PASSWORD, "--denyList=docker-*/*", pm=pm)
    assert result.code == 0, result.err
    undated = lambda e: e.repository.startswith("docker-remote/")  # noqa: E731
    expected = expected_rows(artifactory.host, [e for e in artifactory_expected if not undated(e)], lambda e: True)
    expected += expected_rows(artifactory.host, [e for e in artifactory_expected if undated(e)], lambda e: True, False)[
        1:
    ]
    assert sorted_report(out_dir, artifactory.host) == [expected[0], *sorted(expected[1:])]
    asked = [r.path for r in artifactory.requests[before:]]
    assert not [p for p in asked if p.startswith("/artifactory/api/docker/docker-remote/v2/library/")], asked
    assert [p for p in asked if p.startswith("/artifactory/api/docker/docker-local/v2/app/manifests/")]


def test_a_virtual_repository_named_in_the_url(tcs, pm, artifactory, artifactory_expected, out_dir):
    """The URL JFrog's Set Me Up gives is often a virtual repository's: with only local and federated members,
    its images are listed and read through it, under its key (what `docker pull <host>/<key>/<image>` uses)."""
    walks = len(artifactory.upstream_walks)
    result = tcs("registry", f"{artifactory.url}/docker-internal", "--mode=dry-run", *PASSWORD, pm=pm)
    assert result.code == 0, result.err
    ours = [e for e in artifactory_expected if not e.repository.startswith("docker-remote/")]
    through = [replace(e, repository="docker-internal/" + e.repository.split("/", 1)[1]) for e in ours]
    assert sorted_report(out_dir, artifactory.host) == expected_rows(artifactory.host, through)
    assert artifactory.upstream_walks[walks:] == []
    assert not [m for m in result.messages if m.startswith("warn") and "virtual repository" in m]


VIRTUAL_READ_AS_MEMBERS = (
    "warn\t{key} is a virtual repository whose lists would ask the upstream registries of its remote members"
    " (docker-remote): its members are read instead, each under its own key: docker-local, docker-fed, docker-remote"
)


@pytest.mark.parametrize("key", ["docker", "docker-all"])
def test_a_virtual_repository_with_a_remote_member_is_read_as_its_members(
    tcs, pm, artifactory, artifactory_expected, out_dir, key
):
    """A virtual repository's lists are its members', a remote's asked of its upstream (Docker Hub's 10,000
    tags of openjdk): its members are read instead, each as it would be named in the URL, the remote from
    its cache; a virtual repository among the members (docker-all: docker-internal and docker) is opened."""
    before, walks = len(artifactory.requests), len(artifactory.upstream_walks)
    result = tcs("registry", f"{artifactory.url}/{key}", "--mode=dry-run", *PASSWORD, pm=pm)
    assert result.code == 0, result.err
    assert sorted_report(out_dir, artifactory.host) == rows(artifactory, artifactory_expected)
    assert artifactory.upstream_walks[walks:] == []
    assert not [r.path for r in artifactory.requests[before:] if r.path.startswith(f"/artifactory/api/docker/{key}/")]
    assert [m for m in result.messages if m.startswith("warn") and "virtual repository" in m] == [
        VIRTUAL_READ_AS_MEMBERS.format(key=key)
    ]


@pytest.mark.parametrize(
    ("image", "kept"), [("app", "docker-local/app"), ("library/busybox", "docker-remote/library/busybox")]
)
def test_an_image_named_under_such_a_virtual_repository(
    tcs, pm, artifactory, artifactory_expected, out_dir, image, kept
):
    walks = len(artifactory.upstream_walks)
    result = tcs("registry", f"{artifactory.url}/docker/{image}", "--mode=dry-run", *PASSWORD, pm=pm)
    assert result.code == 0, result.err
    assert sorted_report(out_dir, artifactory.host) == rows(
        artifactory, artifactory_expected, lambda e: e.repository == kept
    )
    assert artifactory.upstream_walks[walks:] == []


def test_an_image_under_such_a_virtual_repository_whose_remote_cache_cannot_be_listed(
    tcs, pm, artifactory, artifactory_expected, out_dir, monkeypatch
):
    """The local member's image is read all the same; the run says which member it could not list (exit 4)."""
    monkeypatch.setattr(artifactory, "file_list_pro_only", True)
    result = tcs("registry", f"{artifactory.url}/docker/app", "--mode=dry-run", *PASSWORD, pm=pm)
    assert result.code == 4, result.err
    kept = rows(artifactory, artifactory_expected, lambda e: e.repository == "docker-local/app")
    assert sorted_report(out_dir, artifactory.host) == kept
    errors = [m for m in result.messages if m.startswith("error")]
    assert "could not list 1 of 3 Docker repositories (docker-remote)" in errors[-1], errors


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("docker/debian9", "docker-local/debian9"),  # a remote among its members: read in the member that has it
        ("docker-internal/debian9", "docker-internal/debian9"),  # none: read through it, under its key
    ],
)
def test_scan_through_a_virtual_repository(tcs, pm, artifactory, out_dir, vulnerability_database, url, named):
    walks = len(artifactory.upstream_walks)
    result = tcs("registry", f"{artifactory.url}/{url}", "--format=json", *PASSWORD, pm=pm)
    assert result.code == 0, result.err
    assert vulnerabilities(out_dir, artifactory.host, named, "1") == DEBIAN9_FINDINGS
    assert artifactory.upstream_walks[walks:] == []


def test_scan_of_a_virtual_repository_with_a_remote_member(tcs, pm, artifactory, out_dir, vulnerability_database):
    """Every member's images scanned under the member's key, the remote's from its cache, none upstream."""
    walks = len(artifactory.upstream_walks)
    result = tcs("registry", f"{artifactory.url}/docker", "--format=json", *PASSWORD, pm=pm)
    assert result.code == 0, result.err
    assert vulnerabilities(out_dir, artifactory.host, "docker-local/debian9", "1") == DEBIAN9_FINDINGS
    scanned = sorted(m.split("image=")[1].split()[0] for m in result.infos if m.startswith("info\tScanned image"))
    assert scanned == [
        f"{artifactory.host}/{name}"
        for name in (
            "docker-fed/tool:2",
            "docker-local/app:1.0",
            "docker-local/app:1.1",
            "docker-local/debian9:1",
            "docker-local/multi:2.0",
            "docker-local/team/svc:v1",
            "docker-remote/library/busybox:1.36",
        )
    ], result.err
    assert artifactory.upstream_walks[walks:] == []


@pytest.mark.parametrize(
    ("image", "kept"),
    [("library/busybox", ["docker-remote/library/busybox"]), ("library/nginx", [])],
)
def test_an_image_named_in_a_remote_lists_only_its_folder_of_the_cache(
    tcs, pm, artifactory, artifactory_expected, out_dir, image, kept
):
    """A cache holds every image ever pulled through the remote: one image named is looked for in its own
    folder (a File List of the whole cache could be a quarter of a million files); one not cached is
    a 404 there, and the run says its upstream is not asked."""
    lists, walks = len(artifactory.file_lists), len(artifactory.upstream_walks)
    result = tcs("registry", f"{artifactory.url}/docker-remote/{image}", "--mode=dry-run", *PASSWORD, pm=pm)
    assert result.code == 0, result.err
    assert artifactory.file_lists[lists:] == ([f"/{image}"] if kept else [])
    assert csv_rows(report_path(out_dir, artifactory.host)) == rows(
        artifactory, artifactory_expected, lambda e: e.repository in kept
    )
    assert artifactory.upstream_walks[walks:] == []
    warned = f"warn\tThe remote repository's cache holds no docker-remote/{image}: its upstream is not asked"
    assert (warned in result.messages) == (not kept), result.err


def test_an_image_named_in_a_blacked_out_remote_is_an_error_not_uncached(tcs, pm, artifactory, out_dir, monkeypatch):
    """Storage answers 404 for a blacked-out repository as for a folder that is not there (ArtifactResource):
    the cache itself not found is the remote's error (the only repository named: exit 3), not an image it
    has not cached."""
    monkeypatch.setattr(artifactory, "blacked_out", frozenset({"docker-remote"}))
    result = tcs("registry", f"{artifactory.url}/docker-remote/library/busybox", "--mode=dry-run", *PASSWORD, pm=pm)
    assert result.code == 3, result.err
    assert not [m for m in result.messages if "cache holds no" in m]
    errors = [m.split(" error=")[0] for m in result.messages if m.startswith("error")]
    assert errors[0] == "error\tListing the Docker repository docker-remote failed", result.err


def test_whether_a_remotes_tag_is_still_there_is_asked_of_its_cache(artifactory):
    """A tag not found is looked for in its repository's list again (deleted since it was listed, or lost);
    a remote's list is its upstream's: its cache's folder is asked instead, the upstream never."""
    from tcs_registry_artifactory.client import ArtifactoryClient

    from tcs_registry.models import Credentials, Registry

    host = artifactory.url.split("//")[1]
    registry = Registry(artifactory.url, "http", host, "", "ARTIFACTORY")
    client = ArtifactoryClient(registry, Credentials(username="deployer", password="Passw0rd!"))
    client.login()
    walks = len(artifactory.upstream_walks)
    assert client.still_listed("docker-remote/library/busybox", "1.36")
    assert not client.still_listed("docker-remote/library/busybox", "9.9")
    assert not client.still_listed("docker-remote/library/nginx", "1.27")  # upstream only: not cached
    assert client.still_listed("docker-local/app", "1.0") and not client.still_listed("docker-local/app", "9.9")
    assert artifactory.upstream_walks[walks:] == []
