"""The Harbor plugin against a faithful Harbor facade over the real CNCF registry."""

from __future__ import annotations

import pytest
import tcs_registry_harbor.client
from tcs_registry_harbor import hooks

from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(tcs_registry_harbor.client, "PAGE_SIZE", 2)  # three projects, three team repositories


@pytest.mark.parametrize("user", ["admin", "robot$team+ci"])
def test_dry_run_through_the_harbor_api(tcs, pm, harbor, harbor_expected, out_dir, small_pages, user):
    before = len(harbor.requests)
    result = tcs(
        "registry", harbor.url, "--mode=dry-run", f"--username={user}", f"--password={harbor.users[user]}", pm=pm
    )
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: HARBOR"
    visible = [e for e in harbor_expected if user == "admin" or e.repository.startswith("team/")]
    assert csv_rows(report_path(out_dir, harbor.host)) == expected_rows(harbor.host, visible)
    paths = [r.path for r in harbor.requests[before:]]
    assert not any(p.startswith("/v2/_catalog") or "/manifests/" in p or "/blobs/" in p for p in paths)
    if user == "admin":  # several pages of projects, of repositories and of artifacts were read
        assert [r.arg("page") for r in harbor.requests[before:] if r.path == "/api/v2.0/projects"] == ["1", "2"]
    artifacts = [r for r in harbor.requests[before:] if r.path.endswith("/team/repositories/sub%2Fapp/artifacts")]
    assert artifacts and all("sub%252Fapp" in r.target for r in artifacts)


def test_wrong_password_is_an_auth_error(tcs, pm, harbor):
    result = tcs("registry", harbor.url, "--mode=dry-run", "--username=admin", "--password=wrong", pm=pm)
    assert result.code == 3
    assert result.messages[-1] == "error\tthe registry's token service refused the credentials of user 'admin'"


def test_sniffed_from_the_v2_challenge_and_overridable(tcs, pm, harbor):
    anonymous = tcs("registry", harbor.url, "--mode=dry-run", pm=pm)
    assert anonymous.infos[0] == "info\tIdentified registry as: HARBOR"
    assert anonymous.code == 3  # every project is private
    forced = tcs(
        "registry",
        harbor.url,
        "--mode=dry-run",
        "--registry-type=DEFAULT_V2",
        "--username=admin",
        f"--password={harbor.users['admin']}",
        pm=pm,
    )
    assert forced.infos[0] == "info\tIdentified registry as: DEFAULT_V2"


def test_a_project_in_the_url_limits_the_run(tcs, pm, harbor, harbor_expected, out_dir):
    result = tcs(
        "registry",
        f"{harbor.url}/library",
        "--mode=dry-run",
        "--username=admin",
        f"--password={harbor.users['admin']}",
        pm=pm,
    )
    assert result.code == 0, result.err
    library = [e for e in harbor_expected if e.repository.startswith("library/")]
    assert csv_rows(report_path(out_dir, harbor.host)) == expected_rows(harbor.host, library)


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
