"""Harbor answers that are wrong: malformed JSON is one error line; a page link to another host
gets no credentials."""

from __future__ import annotations

import pytest
from tcs_registry_harbor import hooks

from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.facade import Facade, json_answer

HARBOR_ADMIN = ("--registry-type=HARBOR", "--username=admin")


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


def _harbor_like(upstream: str, projects) -> Facade:
    facade = Facade(upstream, "broken-harbor")
    facade.route("GET", "/v2/")(lambda request: json_answer({}))
    facade.route("GET", "/api/v2.0/projects")(projects)
    return facade


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([{"id": 1}], "an entry without a usable 'name'"),
        ({"not": "a list"}, "a page without a 'JSON' list"),
        ([["nested"]], "an entry that is not an object"),
    ],
)
def test_malformed_project_list_is_one_error_line(tcs, pm, anonymous_registry, body, problem):
    with _harbor_like(anonymous_registry.url, lambda request: json_answer(body)) as facade:
        result = tcs("registry", facade.url, "--mode=dry-run", *HARBOR_ADMIN, "--password=x", pm=pm)
    assert result.code == 3, result.err
    assert "Traceback" not in result.err
    assert result.messages[-1] == f"error\tHarbor projects: the registry answered {problem}"


def test_a_next_page_on_another_host_gets_no_credentials(tcs, pm, anonymous_registry):
    with Facade(anonymous_registry.url, "elsewhere") as elsewhere:
        elsewhere.route("GET", "/api/v2.0/projects")(lambda request: json_answer([]))
        link = f'<{elsewhere.url}/api/v2.0/projects?page=2&page_size=100>; rel="next"'
        first_page = lambda request: json_answer([], headers={"Link": link})  # noqa: E731
        with _harbor_like(anonymous_registry.url, first_page) as facade:
            result = tcs("registry", facade.url, "--mode=dry-run", *HARBOR_ADMIN, "--password=Harbor12345", pm=pm)
    assert result.code == 0, result.err
    assert [r.headers.get("Authorization") for r in elsewhere.requests] == [None]
    assert facade.requests[-1].headers.get("Authorization", "").startswith("Basic ")
