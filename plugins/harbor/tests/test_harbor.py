"""The Harbor plugin against a strict Harbor facade over the real CNCF registry: every way in (admin,
robots of every reach, an OIDC user's CLI secret, anonymous), both modes."""

from __future__ import annotations

import re

import pytest
import tcs_registry_harbor.client
from tcs_registry_harbor import hooks
from tcs_registry_harbor.client import HarborClient

import tcs_registry.http
from tcs_registry.errors import ImageError
from tcs_registry.models import Credentials, Registry
from tcs_registry.oci import SCHEMA1
from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.facade import text_answer
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path, store_rows, vulnerabilities
from tcs_registry.testing.vulnerable import DEBIAN9_FINDINGS


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(tcs_registry_harbor.client, "PAGE_SIZE", 2)  # three projects, five team repositories


def login(harbor, user: str) -> list[str]:
    return [f"--username={user}", f"--password={harbor.users[user]}"]


def rows_of(harbor, expected, projects: tuple[str, ...]):
    return expected_rows(harbor.host, [e for e in expected if e.repository.split("/")[0] in projects])


@pytest.mark.parametrize(
    ("user", "projects"),
    [
        ("admin", ("library", "ops", "team")),
        ("robot$team+ci", ("team",)),
        (None, ("library",)),  # anonymous: the public project
    ],
)
def test_dry_run_through_the_harbor_api(tcs, pm, harbor, harbor_expected, out_dir, small_pages, user, projects):
    before, pulled = len(harbor.requests), len(harbor.pulled)
    credentials = login(harbor, user) if user else []
    result = tcs("registry", harbor.url, "--mode=dry-run", "--registry-type=HARBOR", *credentials, pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, harbor.host)) == rows_of(harbor, harbor_expected, projects)
    requests = harbor.requests[before:]
    assert not any(r.path.startswith("/v2/_catalog") for r in requests)
    assert not any("/artifacts/" in r.path for r in requests)  # only lists: what an OIDC user may call
    # an index or an arm image read from /v2/ by the digest listed, never by tag (which a proxy-cache
    # project checks with the upstream registry)
    manifests = [r.path.rpartition("/")[2] for r in requests if "/manifests/" in r.path]
    assert ("team" not in projects or manifests) and all(m.startswith("sha256:") for m in manifests)
    # Harbor counts a manifest GET as a pull (retention rules read pull_time): only the arm image's is read
    assert [repository for repository, _ in harbor.pulled[pulled:]] == (["team/pi"] if "team" in projects else [])
    if user == "admin":  # several pages of projects, of repositories and of artifacts were read
        assert [r.arg("page") for r in requests if r.path == "/api/v2.0/projects"] == ["1", "2"]
        # oldest first, the id breaking ties (a sort replaces Harbor's default whole)
        assert {r.arg("sort") for r in requests if r.path == "/api/v2.0/projects"} == {"creation_time,project_id"}
        sorts = {r.arg("sort") for r in requests if r.path.endswith("/repositories")}
        assert sorts == {"creation_time,repository_id"}
        sub = [r for r in requests if r.path.endswith("/team/repositories/sub%2Fapp/artifacts")]
        assert sub and all("sub%252Fapp" in r.target for r in sub)


def test_tags_listed_past_what_is_kept_are_listed_again_not_pulled(
    tcs, pm, harbor, harbor_expected, out_dir, monkeypatch
):
    """More tags listed ahead than the client keeps (a repository of over 10,000; here 1): each tag whose
    listing was let go is listed again by its name (an exact match), never read from /v2/ by tag, which
    Harbor would count as a pull."""
    monkeypatch.setattr(tcs_registry.http, "LISTED", 1)
    before, pulled = len(harbor.requests), len(harbor.pulled)
    result = tcs("registry", harbor.url, "--mode=dry-run", *login(harbor, "admin"), pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, harbor.host)) == rows_of(harbor, harbor_expected, ("library", "ops", "team"))
    assert [repository for repository, _ in harbor.pulled[pulled:]] == ["team/pi"]  # (the arm image, as ever)
    again = [r.arg("q") for r in harbor.requests[before:] if r.path.endswith("/library/repositories/alpine/artifacts")]
    # each tag once, all but the one kept (or all three, where the next repository's listing went ahead)
    listed_again = [q for q in again if q != "tags=*"]
    assert len(set(listed_again)) == len(listed_again) >= 2
    assert set(listed_again) <= {"tags=3.19", "tags=3.20", "tags=latest"}


def test_a_plan_scanned_by_an_account_that_may_not_list_artifacts(
    tcs, pm, harbor, out_dir, vulnerability_database, tmp_path
):
    """A plan's images are described with nothing listed first: the list by tag name that stands in for
    the listing is refused (403, no artifact:list) and the image read from /v2/, as its tags were."""
    robot = login(harbor, "robot$team+lister")
    dry = tcs("registry", f"{harbor.url}/team", "--mode=dry-run", "--allowList=team/debian9", *robot, pm=pm)
    assert dry.code == 0, dry.err
    plan = tmp_path / "plan.csv"
    plan.write_text(report_path(out_dir, harbor.host).read_text())
    scan = tcs("registry", f"{harbor.url}/team", f"--plan={plan}", "--format=json", *robot, pm=pm)
    assert scan.code == 0, scan.err
    assert vulnerabilities(out_dir, harbor.host, "team/debian9", "1") == DEBIAN9_FINDINGS


def test_an_oidc_users_cli_secret(tcs, pm, harbor_oidc, harbor_expected, out_dir):
    """Harbor takes the CLI secret on its lists and /v2/ only (oidc_cli.go): everything comes from those."""
    result = tcs("registry", harbor_oidc.url, "--mode=dry-run", *login(harbor_oidc, "oidc-user"), pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, harbor_oidc.host)) == rows_of(
        harbor_oidc, harbor_expected, ("library", "team")
    )


@pytest.mark.parametrize("user", ["admin", "robot$team+ci", "oidc-user", None])
def test_scan(tcs, pm, harbor, harbor_oidc, harbor_expected, out_dir, vulnerability_database, user):
    facade = harbor_oidc if user == "oidc-user" else harbor
    project = "team" if user else "library"  # anonymous: the public project
    credentials = login(facade, user) if user else ["--registry-type=HARBOR"]
    result = tcs("registry", f"{facade.url}/{project}", "--format=json", *credentials, pm=pm)
    assert result.code == 0, result.err
    images = [e for e in harbor_expected if e.repository.startswith(f"{project}/")]
    scanned = [m for m in result.infos if m.startswith("info\tScanned image")]
    assert len(scanned) == len(images) + (project == "team")  # team/web:2.0 has two platforms
    assert vulnerabilities(out_dir, facade.host, f"{project}/debian9", "1") == DEBIAN9_FINDINGS


def test_a_project_that_prevents_vulnerable_images_is_said_and_its_refusals_fail_those_alone(
    tcs, pm, harbor, out_dir, vulnerability_database, monkeypatch
):
    """Harbor gives the images its scanner found vulnerable to its scanner alone (412 to any other
    account, the admin too): said once from the project's metadata; those images fail in one line each,
    the others are scanned."""
    monkeypatch.setattr(harbor, "prevent_vul", {"team": "High"})
    monkeypatch.setattr(harbor, "vulnerable", {"team/debian9": 3})
    result = tcs("registry", harbor.url, "--allowList=team/debian9,team/api", *login(harbor, "admin"), pm=pm)
    assert result.code == 4, result.err  # (partial: an image failed)
    said = [m for m in result.messages if m.startswith(("warn", "error")) and "command line" not in m]
    assert said[0] == (
        "warn\tHarbor project team gives every account but its own scanner only the images that scanner passed"
        " (Prevent vulnerable images from running: none found at high or above, scanned, the scan not failed): a"
        " scan reports the others failed (412)"
    )
    assert re.fullmatch(
        rf"error\tFailed to describe image image={harbor.host}/team/debian9:1 error={harbor.host}/team/debian9@sha256:"
        r"[0-9a-f]{64}: the registry answered 412 \(PROJECTPOLICYVIOLATION current image with 3 vulnerabilities cannot"
        r" be pulled due to configured policy in 'Prevent images with vulnerability severity of \"High\" or higher from"
        r" running\.' To continue with\)",
        said[1],
    ), said[1]
    assert len(said) == 2
    scanned = {m.split("image=")[1].split(" ")[0] for m in result.infos if m.startswith("info\tScanned image")}
    assert scanned == {f"{harbor.host}/team/api:{tag}" for tag in ("1.0.0", "1.1.0")}


def test_a_robot_without_artifact_list_reads_tags_from_v2(tcs, pm, harbor, harbor_expected, out_dir):
    result = tcs("registry", harbor.url, "--mode=dry-run", *login(harbor, "robot$team+lister"), pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, harbor.host)) == rows_of(harbor, harbor_expected, ("team",))
    warnings = [m for m in result.messages if m.startswith("warn\tHarbor")]
    assert warnings == [
        "warn\tHarbor refused 'robot$team+lister' the List Artifact permission (artifact:list) in project team "
        "(or the project does not exist): grant it to the account (a robot: in its permissions); tags and images "
        "come from /v2/ instead"
    ]


def test_a_project_that_refuses_the_account_leaves_the_others_listed(tcs, pm, harbor, harbor_expected, out_dir):
    """A system robot sees a project it holds no permission in: that one line, every other project done."""
    result = tcs("registry", harbor.url, "--mode=dry-run", *login(harbor, "robot$sys"), pm=pm)
    assert result.code == 4, result.err
    assert csv_rows(report_path(out_dir, harbor.host)) == rows_of(harbor, harbor_expected, ("library", "team"))
    assert [m.split(" error=")[0] for m in result.messages if m.startswith("error")] == [
        "error\tHarbor refused 'robot$sys' the List Repository permission (repository:list) in project ops (or the "
        "project does not exist): grant it to the account (a robot: in its permissions)",
        "error\tRepository listing stopped early after 8 repositories",  # library 2, team 6
    ]


def test_a_refused_token_is_not_a_switch_to_basic(tcs, pm, harbor):
    """Harbor answers Basic realm="harbor" to a request whose token it refused: that is a refusal, and the
    password is never sent on every /v2/ request (an LDAP bind each in LDAP mode)."""
    before = len(harbor.requests)
    result = tcs("registry", f"{harbor.url}/team", "--mode=dry-run", *login(harbor, "robot$team+lister-only"), pm=pm)
    assert result.code == 4  # what needs /v2/ (an index's platforms, an arm image) fails: no pull permission
    v2 = [r for r in harbor.requests[before:] if r.path.startswith("/v2/") and r.path != "/v2/"]
    assert v2 and not [r for r in v2 if r.basic()]


def test_a_robot_without_repository_list_is_told_what_it_lacks(tcs, pm, harbor):
    result = tcs("registry", harbor.url, "--mode=dry-run", *login(harbor, "robot$team+puller"), pm=pm)
    assert result.code == 3
    assert result.messages[-1] == (
        "error\tHarbor refused 'robot$team+puller' the List Repository permission (repository:list) in project "
        "team (or the project does not exist): grant it to the account (a robot: in its permissions)"
    )


def test_a_private_project_anonymously(tcs, pm, harbor):
    result = tcs("registry", f"{harbor.url}/team", "--mode=dry-run", "--registry-type=HARBOR", pm=pm)
    assert result.code == 3
    assert result.messages[-1] == (
        "error\tHarbor project team is not public (or does not exist): log in with --username and --password"
    )


def test_a_robot_prefix_of_the_instances_own(tcs, pm, harbor, harbor_expected, out_dir, monkeypatch):
    monkeypatch.setattr(harbor, "robot_prefix", "robot@")
    monkeypatch.setenv("TCS_HARBOR_ROBOT_PREFIX", "robot@")
    result = tcs("registry", harbor.url, "--mode=dry-run", *login(harbor, "robot@team+ci"), pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, harbor.host)) == rows_of(harbor, harbor_expected, ("team",))


def test_platforms_with_their_variant(tcs, pm, harbor, state_dir):
    """Harbor's extra_attrs have no variant: an arm image's comes from its config."""
    assert tcs("registry", harbor.url, "--mode=dry-run", *login(harbor, "admin"), pm=pm).code == 0
    platforms = dict(store_rows(state_dir, "SELECT repository, platforms FROM images WHERE repository LIKE 'team/%'"))
    assert platforms["team/pi"] == '["linux/arm64/v8"]'
    assert platforms["team/web"] == '["linux/amd64", "linux/arm64"]'
    assert platforms["team/sub/app"] == '["linux/amd64"]'


def test_an_artifact_deleted_while_the_tags_are_listed_hides_no_other(harbor, monkeypatch):
    """Harbor pages by offset: an old artifact deleted (retention) once the first page is read must not
    shift a tag the listing has not reached yet onto a page it has read."""
    monkeypatch.setattr(tcs_registry_harbor.client, "PAGE_SIZE", 1)
    registry = Registry(harbor.url, "http", harbor.host, "", "HARBOR")
    client = HarborClient(registry, Credentials("admin", harbor.users["admin"]))
    oldest = harbor.stored.tags("team/api")["1.0.0"]
    monkeypatch.setattr(harbor, "after_artifacts", lambda request: harbor.deleted.add(oldest))
    monkeypatch.setattr(harbor, "deleted", set())
    assert list(client.tags("team/api")) == ["1.1.0"]  # 1.0.0 was read first, oldest first, and 1.1.0 lost


def test_a_tag_moved_to_a_new_push_while_the_tags_are_listed_is_listed(harbor_over, monkeypatch):
    """Newest first, a tag moved from an artifact not read yet to a new push lands on the first page,
    read already: that page is read again."""
    from tcs_registry.testing.images import Pusher, make_layer

    layer = make_layer({"etc/os-release": b"ID=moved\n"})

    def two(pusher: Pusher) -> list:
        pusher.image("team/app", "1", created="2024-01-01T00:00:00Z", layers=[layer])
        pusher.image("team/app", "2", created="2024-01-02T00:00:00Z", layers=[layer])
        return []

    monkeypatch.setattr(tcs_registry_harbor.client, "PAGE_SIZE", 1)
    with harbor_over("harbor-moved", two) as facade:
        moved = []

        def move(request) -> None:  # once page 1 (tag 2, the newest) is read: tag 1 goes to a new push
            if not moved:
                moved.append(
                    Pusher(facade.upstream).image("team/app", "1", created="2024-01-03T00:00:00Z", layers=[layer])
                )

        facade.after_artifacts = move
        client = HarborClient(
            Registry(facade.url, "http", facade.host, "", "HARBOR"), Credentials("admin", facade.users["admin"])
        )
        assert sorted(client.tags("team/app")) == ["1", "2"]
        assert client.describe("team/app", "1").digest == moved[0].digest


def test_an_image_whose_config_harbor_could_not_read_is_described_from_v2(harbor, monkeypatch):
    monkeypatch.setattr(harbor, "unread_configs", {harbor.stored.tags("team/api")["1.1.0"]})
    client = HarborClient(
        Registry(harbor.url, "http", harbor.host, "", "HARBOR"), Credentials("admin", harbor.users["admin"])
    )
    assert "1.1.0" in client.tags("team/api")
    described = client.describe("team/api", "1.1.0")
    assert (described.tag, described.build_time.isoformat(), [str(p) for p in described.platforms]) == (
        "1.1.0",
        "2024-02-15T09:00:00+00:00",
        ["linux/amd64"],
    )


def test_an_index_is_described_from_its_listed_platforms_unless_one_is_not_there(harbor_over, monkeypatch):
    """Its platforms (their variants too) from the index's references, their build times from one list of
    their artifacts: no manifest read (a pull, to Harbor). A platform whose config Harbor could not read,
    or a list that fails: from /v2/, by the digest listed."""
    from tcs_registry.testing.images import Pusher, make_layer

    layer = make_layer({"etc/os-release": b"ID=multi\n"})
    made = {}

    def multi(pusher: Pusher) -> list:
        amd = pusher.image("team/multi", None, created="2024-05-01T00:00:00Z", layers=[layer])
        arm = pusher.image(
            "team/multi", None, created="2024-05-02T00:00:00Z", layers=[layer], architecture="arm", variant="v7"
        )
        attestation = pusher.attestation("team/multi", amd)
        platforms = [(amd, {"architecture": "amd64", "os": "linux"}), (arm, {"architecture": "arm", "os": "linux",
                     "variant": "v7"})]  # fmt: skip
        made.update(index=pusher.index("team/multi", "1", platforms, [(attestation, amd)]).digest, arm=arm.digest)
        pusher.index("team/multi", "stable", platforms, [(attestation, amd)])  # the same index, a second tag
        return []

    with harbor_over("harbor-multi", multi) as facade:
        registry = Registry(facade.url, "http", facade.host, "", "HARBOR")
        described = []
        for unread, failing in ((set(), False), ({made["arm"]}, False), (set(), True)):
            monkeypatch.setattr(facade, "unread_configs", unread)
            if failing:  # the list of the platforms' artifacts answers 400 (a gateway's URL limit, ...)
                facade.route("GET", ".*/artifacts")(
                    lambda r: text_answer("", 400) if "base" in r.arg("q", "") else None
                )
                facade.routes.insert(0, facade.routes.pop())
            client = HarborClient(registry, Credentials("admin", facade.users["admin"]))
            requests, pulled = len(facade.requests), len(facade.pulled)
            assert sorted(client.tags("team/multi")) == ["1", "stable"]
            image = client.describe("team/multi", "1")
            assert client.describe("team/multi", "stable").digest == image.digest  # (its platforms listed once)
            lists = [r.arg("q") for r in facade.requests[requests:] if r.path.endswith("/artifacts")]
            shown = (image.digest, [str(p) for p in image.platforms], image.build_time.isoformat())
            described.append((shown, lists, [reference for _, reference in facade.pulled[pulled:]]))
    shown = (made["index"], ["linux/amd64", "linux/arm/v7"], "2024-05-02T00:00:00+00:00")
    children = f"base=*,digest={{{' '.join(p.digest for p in image.platforms)}}}"
    assert described[0] == (shown, ["tags=*", children], [])  # one list of the platforms for both tags
    assert described[1][:2] == (shown, ["tags=*", children])
    assert described[1][2][0] == made["index"]  # then each platform's manifest, by digest
    assert described[2][:2] == (shown, ["tags=*", children])
    assert described[2][2][0] == made["index"]


def test_push_time_is_the_tags_own(harbor):
    """The artifact's push_time is its first push; a tag pushed onto it later has its own."""
    registry = Registry(harbor.url, "http", harbor.host, "", "HARBOR")
    client = HarborClient(registry, Credentials("admin", harbor.users["admin"]))
    tags = list(client.tags("library/alpine"))
    assert sorted(tags) == ["3.19", "3.20", "latest"]
    stored = harbor.stored.root / "library/alpine/_manifests/tags"
    for tag in tags:
        pushed = client.describe("library/alpine", tag).push_time
        link = stored / tag / "current" / "link"
        assert abs(pushed.timestamp() - link.stat().st_mtime) < 0.001, tag


def test_a_schema_1_image_is_refused_from_its_listing_without_a_read(harbor, monkeypatch):
    """Harbor keeps images pushed in Docker's schema 1 before it refused them, with the architecture alone
    (processor/image/manifest_v1.go): unsupported, as /v2/ would say, without reading it (a pull)."""
    made = harbor._artifact

    def schema_1(repository, digest):
        artifact = made(repository, digest)
        if artifact and repository == "team/sub/app":
            return {**artifact, "manifest_media_type": SCHEMA1[1], "extra_attrs": {"architecture": "amd64"}}
        return artifact

    monkeypatch.setattr(harbor, "_artifact", schema_1)
    client = HarborClient(
        Registry(harbor.url, "http", harbor.host, "", "HARBOR"), Credentials("admin", harbor.users["admin"])
    )
    assert list(client.tags("team/sub/app")) == ["v1"]
    before = len(harbor.requests)
    with pytest.raises(ImageError) as refused:
        client.describe("team/sub/app", "v1")
    assert str(refused.value) == (
        f"{harbor.host}/team/sub/app:v1: schema 1 manifests are not supported (deprecated format; re-push the image)"
    )
    assert harbor.requests[before:] == []


def test_wrong_password_is_an_auth_error(tcs, pm, harbor):
    result = tcs("registry", harbor.url, "--mode=dry-run", "--username=admin", "--password=wrong", pm=pm)
    assert result.code == 3
    assert result.messages[-1] == (
        "error\tthe registry's token service refused the credentials of user 'admin', from --username/--password"
    )


def test_sniffed_from_the_v2_challenge_and_overridable(tcs, pm, harbor):
    anonymous = tcs("registry", harbor.url, "--mode=dry-run", pm=pm)
    assert anonymous.infos[0] == "info\tIdentified registry as: HARBOR"
    forced = tcs("registry", harbor.url, "--mode=dry-run", "--registry-type=DEFAULT_V2", *login(harbor, "admin"), pm=pm)
    assert forced.infos[0] == "info\tIdentified registry as: DEFAULT_V2"


def test_a_project_in_the_url_limits_the_run(tcs, pm, harbor, harbor_expected, out_dir):
    result = tcs("registry", f"{harbor.url}/library", "--mode=dry-run", *login(harbor, "admin"), pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, harbor.host)) == rows_of(harbor, harbor_expected, ("library",))


@pytest.mark.parametrize("user", ["admin", "robot$team+ci"])
def test_a_project_in_the_url_that_does_not_exist_is_one_line(tcs, pm, harbor, user):
    """An admin is told there is no such project (404); anyone else is refused it, as Harbor answers a
    project that does not exist (403: handler/base.go, project id 0)."""
    result = tcs("registry", f"{harbor.url}/nosuch", "--mode=dry-run", *login(harbor, user), pm=pm)
    assert result.code == 3, result.err
    said = {
        "admin": "Harbor repositories of project nosuch: the registry answered 404 (NOT_FOUND project nosuch not"
        " found)",
        "robot$team+ci": "Harbor refused 'robot$team+ci' the List Repository permission (repository:list) in project"
        " nosuch (or the project does not exist): grant it to the account (a robot: in its permissions)",
    }
    assert [m for m in result.messages if m.startswith("error")] == [f"error\t{said[user]}"]


def test_sniffing_by_ping_when_the_challenge_names_no_vendor(tcs, pm, harbor, registry_for_harbor_ping):
    """A Harbor behind a proxy that answers /v2/ with a plain Basic challenge: the ping decides."""
    result = tcs("registry", registry_for_harbor_ping.url, "--mode=dry-run", pm=pm)
    assert result.infos[0] == "info\tIdentified registry as: HARBOR"


@pytest.fixture
def registry_for_harbor_ping(harbor):
    from tcs_registry.testing.facade import Facade, json_answer, text_answer

    facade = Facade(harbor.upstream, "basic-front")
    facade.route("GET", "/api/v2.0/ping")(lambda request: text_answer("Pong"))
    facade.route("GET", "/v2/")(lambda request: json_answer({}, 401, {"WWW-Authenticate": 'Basic realm="registry"'}))
    with facade:
        yield facade
