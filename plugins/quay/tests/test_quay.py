"""The Quay plugin against a strict Quay facade over the real CNCF registry: every way in, both modes."""

from __future__ import annotations

import re
import shutil

import pytest
import tcs_registry_quay.client
from tcs_registry_quay import hooks

from tcs_registry import Credentials, Registry, pacing
from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.datasets import push_tags
from tcs_registry.testing.helpers import expected_rows, sorted_report, store_rows, vulnerabilities
from tcs_registry.testing.images import make_layer
from tcs_registry.testing.vulnerable import DEBIAN9_FINDINGS

ROBOT = ("acme+ci", "ROBOTTOKEN0123456789")
USER = ("dev", "dev-Passw0rd")
APP = ("$app", "app-token-0123456789abcdef")
OAUTH = ("$oauthtoken", "oauth-access-token-abcdef")
WAYS_IN = {"robot": ROBOT, "user": USER, "application token": APP, "OAuth token": OAUTH}


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


def login(user: tuple[str, str]) -> list[str]:
    return [f"--username={user[0]}", f"--password={user[1]}"]


@pytest.mark.parametrize("way_in", WAYS_IN)
def test_dry_run_every_way_in(tcs, pm, quay, quay_expected, out_dir, way_in):
    """The organization's repositories the account may read, and its public ones (acme/tool)."""
    before = len(quay.requests)
    result = tcs("registry", f"{quay.url}/acme", "--mode=dry-run", *login(WAYS_IN[way_in]), pm=pm)
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: QUAY"
    assert sorted_report(out_dir, quay.host) == expected_rows(quay.host, quay_expected)
    requests = quay.requests[before:]
    rest = [r for r in requests if r.path.startswith("/api/v1")]
    if way_in == "OAuth token":
        assert not any(r.path == "/v2/_catalog" for r in requests)
        assert all(r.headers["Authorization"] == f"Bearer {OAUTH[1]}" for r in rest)
    else:  # the catalog, and the public listing asked anonymously: Quay's REST API ignores Basic
        assert [r.path for r in requests].count("/v2/_catalog") == 1
        assert [r.target for r in rest] == ["/api/v1/repository?namespace=acme&public=true&repo_kind=image"]
        assert all("Authorization" not in r.headers for r in rest)


@pytest.mark.parametrize("mode", ["dry-run", "scan"])
def test_an_access_token_reads_the_repository_the_url_names(tcs, pm, quay, quay_expected, out_dir, mode):
    """A repository's access token ($token): the catalog lists nothing for it (no user in its context),
    so the URL names its repository, which alone is read; without one, a usage line says so."""
    access = ("$token", "TRIGGERTOKENNAME0123456789abcdef" + "c0de" * 8)  # a build trigger's
    result = tcs("registry", f"{quay.url}/acme/api", f"--mode={mode}", "--format=json", *login(access), pm=pm)
    assert result.code == 0, result.err
    api = [e for e in quay_expected if e.repository == "acme/api"]
    if mode == "dry-run":
        assert sorted_report(out_dir, quay.host) == expected_rows(quay.host, api)
    else:
        assert len([m for m in result.infos if m.startswith("info\tScanned image")]) == len(api)
    unnamed = tcs("registry", f"{quay.url}/acme", "--mode=dry-run", *login(access), pm=pm)
    assert (unnamed.code, unnamed.messages[-1]) == (
        2,
        "error\ta Quay access token ($token) reads the one repository it was made for: name it in the URL "
        f"({quay.url}/<organization>/<repository>)",
    )


@pytest.mark.parametrize("path", ["acme/web", "repository/acme/web"])  # (the second: its web page's URL)
def test_a_repository_in_the_url_is_all_that_is_read(tcs, pm, quay, quay_expected, out_dir, path):
    """https://quay.io/acme/web names one repository: it is read, and nothing is listed to find it."""
    before = len(quay.requests)
    result = tcs("registry", f"{quay.url}/{path}", "--mode=dry-run", *login(ROBOT), pm=pm)
    assert result.code == 0, result.err
    web = [e for e in quay_expected if e.repository == "acme/web"]
    assert sorted_report(out_dir, quay.host) == expected_rows(quay.host, web)
    assert not [r.path for r in quay.requests[before:] if r.path in ("/v2/_catalog", "/api/v1/repository")]


def test_a_repository_name_quay_would_not_take(tcs, pm, quay):
    """Quay's names are lower case (util/names.py), as every registry's: its token service would refuse the
    scope (400 NAME_INVALID). One usage line, before anything is asked for."""
    before = len(quay.requests)
    result = tcs("registry", f"{quay.url}/acme/API", "--mode=dry-run", *login(ROBOT), pm=pm)
    assert (result.code, result.messages[-1]) == (
        2,
        "error\tthe URL names the repository 'acme/API', which is no repository name: lower-case letters, digits"
        " and . _ - (and / between the parts)",
    )
    assert [r.path for r in quay.requests[before:] if not r.path.endswith("/v2/")] == []  # (the type's probe)


def test_a_repository_the_account_may_not_read(tcs, pm, quay):
    """Quay answers 401 whether the repository is missing or closed to the account (it grants no pull)."""
    result = tcs("registry", f"{quay.url}/acme/nope", "--mode=dry-run", *login(ROBOT), pm=pm)
    assert result.code == 4, result.err  # (what it could list, nothing, is in the report)
    assert [m for m in result.messages if m.startswith("error")] == [
        "error\tFailed to list tags repository=acme/nope error=tags of acme/nope: Quay grants this account no "
        "pull on it (no such repository, or no read permission on it)"
    ]


def test_a_robot_names_its_organization(tcs, pm, quay, quay_expected, out_dir):
    result = tcs("registry", quay.url, "--mode=dry-run", "--registry-type=quay", *login(ROBOT), pm=pm)
    assert result.code == 0, result.err
    assert sorted_report(out_dir, quay.host) == expected_rows(quay.host, quay_expected)


def test_anonymous_sees_the_public_repositories(tcs, pm, quay, quay_expected, out_dir):
    result = tcs("registry", f"{quay.url}/acme", "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    public = [e for e in quay_expected if e.repository in ("acme/tool", "acme/debian9")]
    assert sorted_report(out_dir, quay.host) == expected_rows(quay.host, public)


def test_anonymous_with_anonymous_access_off_is_one_line(tcs, pm, quay, monkeypatch):
    """FEATURE_ANONYMOUS_ACCESS off: no token without credentials (v2auth's anon_protect), public or not."""
    monkeypatch.setattr(quay, "anonymous_access", False)
    result = tcs("registry", f"{quay.url}/acme", "--mode=dry-run", pm=pm)
    assert result.code == 3, result.err
    assert result.messages[-1] == (
        "error\tQuay repositories of acme: the registry requires credentials: pass --username and --password"
        " (or --password-stdin) (Anonymous access is not allowed)"
    )
    public = tcs("registry", f"{quay.url}/acme/tool", "--mode=dry-run", pm=pm)  # (a public repository)
    assert public.code == 4, public.err  # (its listing failed: the run is partial)
    assert [m for m in public.messages if m.startswith("error")] == [
        "error\tFailed to list tags repository=acme/tool error=the registry's token service requires credentials:"
        " pass --username and --password (or --password-stdin) (Anonymous access is not allowed)"
    ]
    assert not [m for m in public.messages if m.startswith("warn")]  # (its REST tag list's 401 too: one line)


def test_anonymous_without_an_organization(tcs, pm, quay):
    result = tcs("registry", quay.url, "--mode=dry-run", "--registry-type=quay", pm=pm)
    assert result.code == 2  # (the URL is not enough: usage)
    assert result.messages[-1] == (
        "error\tQuay lists repositories per organization: name it in the URL (https://quay.io/<org>)"
    )


@pytest.mark.parametrize("way_in", [*WAYS_IN, "anonymous"])
def test_scan(tcs, pm, quay, quay_expected, out_dir, vulnerability_database, way_in):
    credentials = login(WAYS_IN[way_in]) if way_in in WAYS_IN else []
    result = tcs("registry", f"{quay.url}/acme", "--format=json", *credentials, pm=pm)
    assert result.code == 0, result.err
    scanned = [m for m in result.infos if m.startswith("info\tScanned image")]
    assert len(scanned) == (len(quay_expected) if credentials else 2)  # anonymous: the public ones
    assert vulnerabilities(out_dir, quay.host, "acme/debian9", "1") == DEBIAN9_FINDINGS


def test_the_token_service_is_asked_for_repository_scopes_only(tcs, pm, quay):
    before = len(quay.requests)
    assert tcs("registry", f"{quay.url}/acme", "--mode=dry-run", *login(ROBOT), pm=pm).code == 0
    scopes = [r.query.get("scope", []) for r in quay.requests[before:] if r.path == "/v2/auth"]
    assert scopes[0] == []  # the ping and the catalog: a signed-in token, no scope
    assert all(len(s) == 1 and s[0].startswith("repository:acme/") and s[0].endswith(":pull") for s in scopes[1:])


def test_oauth_token_over_the_rest_api_with_paging_and_active_tags_only(
    tcs, pm, quay, quay_expected, out_dir, state_dir, monkeypatch
):
    monkeypatch.setattr(quay, "repos_per_page", 2)
    monkeypatch.setattr(tcs_registry_quay.client, "TAGS_PER_PAGE", 2)
    before = len(quay.requests)
    result = tcs("registry", f"{quay.url}/acme", "--mode=dry-run", *login(OAUTH), pm=pm)
    assert result.code == 0, result.err
    assert sorted_report(out_dir, quay.host) == expected_rows(quay.host, quay_expected)  # no "old"
    requests = quay.requests[before:]
    assert [r.arg("next_page") is not None for r in requests if r.path == "/api/v1/repository"] == [False, True]
    tag_pages = [r for r in requests if r.path == "/api/v1/repository/acme/api/tag/"]
    assert [(r.arg("onlyActiveTags"), r.arg("page")) for r in tag_pages] == [("true", "1"), ("true", "2")]
    assert [r.path for r in requests].count("/v2/acme/api/tags/list") == 1  # the names, paged by name
    assert store_rows(state_dir, "SELECT COUNT(*) FROM images WHERE repository LIKE 'acme/%'") == [(6,)]


def test_tags_pushed_while_the_pages_are_read(tcs, pm, fresh_quay, pusher, out_dir, monkeypatch):
    """Quay pages tags by offset, newest first: a new tag shifts the rest (one comes twice), a tag pushed
    again jumps to the first page. Each tag is reported once, none is missed."""
    base = [make_layer({"etc/os-release": b"ID=quay-test\n"})]
    versions = [(f"1.{i}", f"2024-01-0{i + 1}T00:00:00Z") for i in range(5)]
    expected = push_tags(pusher, "acme/api", versions, base)
    monkeypatch.setattr(tcs_registry_quay.client, "TAGS_PER_PAGE", 2)
    pushed = []

    def push(page: int) -> None:
        if page == 1 and not pushed:  # after the first page: one new tag, and 1.0 (on page 3) pushed again
            pushed.append(push_tags(pusher, "acme/api", [("2.0", "2024-02-01T00:00:00Z")], base))
            pushed.append(push_tags(pusher, "acme/api", [("1.0", "2024-02-02T00:00:00Z")], base))

    fresh_quay.after_tag_page = push
    result = tcs("registry", f"{fresh_quay.url}/acme", "--mode=dry-run", *login(OAUTH), pm=pm)
    assert result.code == 0, result.err
    now = [e for e in expected if e.tag != "1.0"] + pushed[0] + pushed[1]
    assert sorted_report(out_dir, fresh_quay.host) == expected_rows(fresh_quay.host, now)


@pytest.mark.parametrize("credentials", [ROBOT, OAUTH, None], ids=["robot", "OAuth token", "anonymous"])
def test_a_namespace_that_is_none_is_an_error_and_an_empty_one_is_not(tcs, pm, quay, out_dir, credentials):
    """Quay's listings filter by namespace without asking whether it is one: a misspelt organization listed
    nothing, exit 0. Now it is one error line; an organization with no repository is an empty run."""
    given = login(credentials) if credentials else ()
    before = len(quay.requests)
    result = tcs("registry", f"{quay.url}/acmee", "--mode=dry-run", *given, pm=pm)
    assert result.code == 3, result.err
    assert [m for m in result.messages if m.startswith("error")] == [
        "error\tQuay has no organization or user named 'acmee' (the URL's path)"
    ]
    empty = tcs("registry", f"{quay.url}/empty", "--mode=dry-run", *given, pm=pm)
    assert empty.code == 0, empty.err
    assert sorted_report(out_dir, quay.host) == expected_rows(quay.host, [])
    user = tcs("registry", f"{quay.url}/dev", "--mode=dry-run", *given, pm=pm)  # a user's namespace
    assert user.code == 0, user.err
    asked = [r.path for r in quay.requests[before:] if r.path.endswith(("/acmee", "/empty", "/dev"))]
    assert asked == [
        "/api/v1/organization/acmee",
        "/api/v1/users/acmee",
        "/api/v1/organization/empty",
        "/api/v1/organization/dev",
        "/api/v1/users/dev",
    ]


def test_a_namespace_quay_will_not_say_of_is_taken_to_be_one(tcs, pm, quay, out_dir, monkeypatch):
    """Anonymous access off: the lookup is 401 to a robot (the REST API takes no Basic credentials): the
    empty listing stands, as it did."""
    monkeypatch.setattr(quay, "anonymous_access", False)
    result = tcs("registry", f"{quay.url}/acmee", "--mode=dry-run", *login(ROBOT), pm=pm)
    assert result.code == 0, result.err
    assert sorted_report(out_dir, quay.host) == expected_rows(quay.host, [])


def test_a_tag_pushed_again_after_its_push_time_was_read_has_none(quay, fresh_quay, pusher):
    """The REST tag list's start_ts is for the image the tag named then: a tag pushed again before it is
    described gets no push time rather than the old image's."""
    base = [make_layer({"etc/os-release": b"ID=quay-test\n"})]
    push_tags(pusher, "acme/api", [("1.0", "2024-01-01T00:00:00Z"), ("1.1", "2024-01-02T00:00:00Z")], base)
    registry = Registry(fresh_quay.url, "http", fresh_quay.host, "/acme", "QUAY")
    client = tcs_registry_quay.client.QuayClient(registry, Credentials(*OAUTH))
    assert sorted(client.tags("acme/api")) == ["1.0", "1.1"]
    push_tags(pusher, "acme/api", [("1.1", "2024-03-01T00:00:00Z")], base)  # pushed again meanwhile
    assert client.describe("acme/api", "1.0").push_time is not None
    again = client.describe("acme/api", "1.1")
    assert (again.build_time.isoformat(), again.push_time) == ("2024-03-01T00:00:00+00:00", None)


def test_a_tag_that_expires_while_the_pages_are_read(tcs, pm, fresh_quay, pusher, out_dir, monkeypatch):
    """A tag ending (deleted, or expired by quay.expires-after) after the first page shifts the later ones
    onto it: every live tag is still reported, the ended one is not."""
    base = [make_layer({"etc/os-release": b"ID=quay-test\n"})]
    versions = [(f"1.{i}", f"2024-01-0{i + 1}T00:00:00Z") for i in range(5)]
    expected = push_tags(pusher, "acme/api", versions, base)
    monkeypatch.setattr(tcs_registry_quay.client, "TAGS_PER_PAGE", 2)
    newest = sorted(fresh_quay.stored.tags("acme/api"))[-1]

    def expire(page: int) -> None:
        if page == 1:
            shutil.rmtree(fresh_quay.stored.root / "acme/api/_manifests/tags" / newest)

    fresh_quay.after_tag_page = expire
    result = tcs("registry", f"{fresh_quay.url}/acme", "--mode=dry-run", *login(OAUTH), pm=pm)
    assert result.code == 0, result.err
    live = [e for e in expected if e.tag != newest]
    assert sorted_report(out_dir, fresh_quay.host) == expected_rows(fresh_quay.host, live)


GRANTED = ("acme/api", "acme/web", "acme/debian9")  # what the robot's catalog lists; acme/tool only the public listing


def test_a_rest_api_closed_to_anonymous_users_leaves_the_catalog(tcs, pm, quay, quay_expected, out_dir, monkeypatch):
    """FEATURE_ANONYMOUS_ACCESS off: the public listing, asked anonymously, is 401. The catalog is all
    there is to list: the run completes, with a warning that the public repositories the account has no
    permission on were not listed."""
    monkeypatch.setattr(quay, "anonymous_access", False)
    result = tcs("registry", f"{quay.url}/acme", "--mode=dry-run", *login(ROBOT), pm=pm)
    assert result.code == 0, result.err
    granted = [e for e in quay_expected if e.repository in GRANTED]
    assert sorted_report(out_dir, quay.host) == expected_rows(quay.host, granted)
    assert (
        "warn\tQuay's public repositories of acme are not listed, but those this account has a permission on:"
        " its API answered 401 to the anonymous listing (anonymous access is off); grant the account read on the"
        " others to scan them"
    ) in result.messages


FAILED_PUBLIC_LISTINGS = {
    # Quay's nginx refuses it with 429 every time (limit_req_status 429): once the registry has answered
    # nothing but 429 for STARVED seconds (here 2), the run stops, the listing incomplete (acme/tool never
    # listed), and the exit code says so: not a complete run that left it out
    "429 till the quota stop": (
        (429, {"Content-Type": "text/html"}, b"<html><center><h1>429 Too Many Requests</h1></center></html>"),
        [
            "error\tStopping: the registry has answered nothing but 429 (too many requests) for 0.0 minutes;"
            " the listing is incomplete after 3 repositories",
            "error\tThe listing is incomplete (no image listed was left undone); run again when the quota allows it",
        ],
    ),
    # a page that is not Quay's answer (a proxy's sign-in page, 200): the listing failed, it was not
    # closed to anonymous users
    "a sign-in page": (
        (200, {"Content-Type": "text/html"}, b"<html><body>Sign in to continue</body></html>"),
        [
            "error\tRepository listing stopped early after 3 repositories error=Quay repositories of acme:"
            " the registry answered with invalid JSON (text/html)"
        ],
    ),
}


@pytest.mark.parametrize("answer", FAILED_PUBLIC_LISTINGS)
def test_a_public_listing_that_fails_leaves_the_run_partial(tcs, pm, quay, quay_expected, out_dir, monkeypatch, answer):
    """The catalog's images are done, the public listing's failure is said in the log (not taken for a
    door closed to anonymous users) and the run is partial."""
    monkeypatch.setattr(pacing, "STARVED", 2.0)
    page, errors = FAILED_PUBLIC_LISTINGS[answer]
    monkeypatch.setattr(quay, "routes", [("GET", re.compile("/api/v1/repository"), lambda r: page), *quay.routes])
    result = tcs("registry", f"{quay.url}/acme", "--mode=dry-run", *login(ROBOT), pm=pm)
    assert result.code == 4, result.err
    granted = [e for e in quay_expected if e.repository in GRANTED]
    assert sorted_report(out_dir, quay.host) == expected_rows(quay.host, granted)
    assert [m for m in result.messages if m.startswith("error")] == errors
    assert not [m for m in result.infos if "are not listed" in m]


def test_wrong_robot_token(tcs, pm, quay):
    result = tcs(
        "registry", quay.url, "--mode=dry-run", "--username=acme+ci", "--password=nope", "--registry-type=QUAY", pm=pm
    )
    assert result.code == 3
    assert result.messages[-1] == (
        "error\tthe registry's token service refused the credentials of user 'acme+ci', from --username/--password"
    )


def test_sniffed_from_the_v2_challenge(tcs, pm, quay):
    result = tcs("registry", f"{quay.url}/acme", "--mode=dry-run", pm=pm)
    assert result.infos[0] == "info\tIdentified registry as: QUAY"


def test_quay_io_by_name_alone():
    from tcs_registry_quay.hooks import plugin

    class NoProbe:
        def v2(self):
            raise AssertionError("no request for a known host")

    assert plugin.sniff("https://quay.io/acme", NoProbe()).registry_type == "QUAY"


def test_a_rest_tag_page_that_fails_loses_push_times_not_the_repository(
    tcs, pm, quay, quay_expected, out_dir, monkeypatch
):
    """With an OAuth token the REST tag list is read for push times only; the names come from tags/list.
    A page of it that fails (here a proxy's sign-in page in its place) costs those push times, said once,
    not the repository's images."""
    broken = (200, {"Content-Type": "text/html"}, b"<html><body>Sign in to continue</body></html>")
    route = ("GET", re.compile("/api/v1/repository/acme/api/tag/"), lambda request, **_: broken)
    monkeypatch.setattr(quay, "routes", [route, *quay.routes])
    result = tcs("registry", f"{quay.url}/acme", "--mode=dry-run", *login(OAUTH), pm=pm)
    assert result.code == 0, result.err
    ours = [e for e in quay_expected if e.repository.startswith("acme/")]
    assert sorted_report(out_dir, quay.host) == expected_rows(quay.host, ours)
    warned = [m for m in result.messages if "Push times" in m]
    assert warned == [
        "warn\tPush times of acme/api are not known: Quay tags of acme/api: the registry answered with invalid JSON"
        " (text/html)"
    ], warned
