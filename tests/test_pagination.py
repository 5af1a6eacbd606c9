"""Pagination: the real registry's catalog (n refused with 400, then Link pages), and tags/list
paged the OCI way by a proxy (the registry packaged here returns all tags at once)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tcs_registry.testing.helpers import console_script, csv_rows, expected_rows, run_on_a_terminal
from tcs_registry.testing.proxy import Proxy
from tcs_registry.testing.registry import RegistryServer


@pytest.fixture(scope="module")
def small_pages_registry(standard, work):
    """The real registry with catalog.maxentries=2: n=1000 is refused with PAGINATION_NUMBER_INVALID."""
    with RegistryServer(standard.storage, work, catalog_max_entries=2) as server:
        yield server


def test_catalog_shrinks_n_on_400_and_follows_links(tcs, small_pages_registry, standard, out_dir):
    with Proxy(small_pages_registry.url, lambda *_: None) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        host = urlsplit(proxy.url).netloc
        assert result.code == 0, result.err
        report = out_dir / (host.replace(".", "-").replace(":", "-") + "-report.csv")
        assert csv_rows(report) == expected_rows(host, standard.expected)
        catalog = [p for p in proxy.paths if p.startswith("/v2/_catalog")]
        sizes = [parse_qs(urlsplit(p).query)["n"][0] for p in catalog]
        # n=1000 is refused and halved until accepted (1 <= maxentries=2), then one linked page per repository
        assert sizes == ["1000", "500", "250", "125", "62", "31", "15", "7", "3", "1"] + ["1"] * 5


def _paged_tags(style: str, page: int = 2):
    """tags/list as the OCI distribution spec pages it: n and last, Link to the next page.

    style: "relative" (distribution's own form), "absolute", "short" (fewer than n per page, still
    linked, as the spec allows), "loop" (a broken registry whose link points back to page one).
    """

    def rewrite(path, session, upstream):
        parts = urlsplit(path)
        if not parts.path.endswith("/tags/list"):
            return None
        answer = session.get(upstream + parts.path)
        if answer.status_code != 200:
            return None
        body = answer.json()
        tags = sorted(body["tags"] or [])
        query = parse_qs(parts.query)
        n = min(int(query.get("n", [page])[0]), page)
        if style == "short":
            n = 1
        last = query.get("last", [""])[0]
        remaining = [t for t in tags if t > last]
        chunk, rest = remaining[:n], remaining[n:]
        headers = {"Content-Type": "application/json"}
        if rest:
            target = f"{parts.path}?last={chunk[-1]}&n={n}" if style != "loop" else f"{parts.path}?n={n}&last="
            if style == "absolute":
                target = "http://" + session.headers.get("X-Proxy-Host", "") + target
            headers["Link"] = f'<{target}>; rel="next"'
        return 200, headers, json.dumps({"name": body["name"], "tags": chunk}).encode()

    return rewrite


@pytest.mark.parametrize("style", ["relative", "absolute", "short"])
def test_tags_pages_are_all_followed(tcs, anonymous_registry, standard, out_dir, style):
    rewrite = _paged_tags(style)
    with Proxy(anonymous_registry.url, rewrite) as proxy:
        host = urlsplit(proxy.url).netloc
        proxy.session.headers["X-Proxy-Host"] = host  # lets the rewrite build absolute links
        result = tcs("registry", proxy.url, "--mode=dry-run")
        assert result.code == 0, result.err
        report = out_dir / (host.replace(".", "-").replace(":", "-") + "-report.csv")
        assert csv_rows(report) == expected_rows(host, standard.expected)
        pages = [p for p in proxy.paths if p.startswith("/v2/team/api/tags/list")]
        assert len(pages) == (3 if style == "short" else 2)


def test_a_looping_link_fails_that_repository_only(tcs, anonymous_registry):
    with Proxy(anonymous_registry.url, _paged_tags("loop")) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
    assert result.code == 4
    loops = [m for m in result.messages if m.startswith("error\tFailed to list tags repository=")]
    assert {m.split("repository=")[1].split(" ")[0] for m in loops} == {"alpine", "team/api"}
    assert all("the registry's pagination loops back to" in m for m in loops)
    assert "Total images found    : 4 tags\n" in result.out
    assert "Failed repositories   : 2\n" in result.out


def test_a_repository_that_fails_to_list_leaves_no_image_to_wait_for(anonymous_registry, tmp_path):
    """The tags on the pages read before its listing failed are not counted as found: the live line
    ends with every image found done (it ended at 4/12, the time left never reaching zero)."""
    command = [console_script(), "registry", "--mode=dry-run", f"--state-dir={tmp_path}", f"--output-dir={tmp_path}"]
    with Proxy(anonymous_registry.url, _paged_tags("loop")) as proxy:
        code, shown, _ = run_on_a_terminal([*command, proxy.url])
    assert code == 4
    assert re.findall(r"([\d,]+)/([\d,]+)(\+?) images", shown)[-1] == ("4", "4", ""), shown[-1000:]


def test_a_cursor_in_the_body_is_followed_and_a_repeated_cursor_is_an_error(anonymous_registry):
    """REST APIs that page with a cursor in the body (Quay's next_page, Nexus's continuationToken):
    the cursor goes into the same query parameter, encoded; a cursor seen before ends in one error."""
    from tcs_registry.errors import RegistryError
    from tcs_registry.http import NO_AUTH, RegistryClient
    from tcs_registry.models import Credentials, Registry
    from tcs_registry.testing.facade import Facade, json_answer

    pages = {None: (["a", "b"], "c2/=+"), "c2/=+": (["c"], "c3"), "c3": (["d"], "c2/=+")}
    with Facade(anonymous_registry.url, "cursor-api") as api:
        api.route("GET", "/api/items")(
            lambda request: json_answer(dict(zip(("items", "cursor"), pages[request.arg("cursor")], strict=True)))
        )
        host = api.url.split("//")[1]
        client = RegistryClient(Registry(api.url, "http", host, "", "DEFAULT_V2", "p"), Credentials())
        listing = client.paginate(
            "/api/items?kind=x", "items", size_param=None, next_key="cursor", cursor_param="cursor", auth=NO_AUTH
        )
        found = []
        with pytest.raises(RegistryError, match=r"/api/items\?kind=x: the registry's pagination loops back to c2/=\+"):
            found.extend(listing)
    assert found == ["a", "b", "c", "d"]
    assert [r.target for r in api.requests] == [
        "/api/items?kind=x",
        "/api/items?kind=x&cursor=c2%2F%3D%2B",
        "/api/items?kind=x&cursor=c3",
    ]


def test_a_catalog_that_never_ends_stops_with_one_line(tcs, anonymous_registry, monkeypatch):
    """Every page links to a new one: the listing stops at MAX_PAGES pages (100,000; 30 here) with one
    error line, having kept nothing but the names it listed."""
    from tcs_registry import http

    monkeypatch.setattr(http, "MAX_PAGES", 30)

    def endless(path, session, upstream):
        if path.startswith("/v2/_catalog"):
            page = int(parse_qs(urlsplit(path).query).get("last", ["r0"])[0][1:]) + 1
            link = {"Link": f'</v2/_catalog?n=1000&last=r{page}>; rel="next"'}
            return 200, {"Content-Type": "application/json", **link}, json.dumps({"repositories": []}).encode()
        return None

    with Proxy(anonymous_registry.url, endless) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        pages = sum(p.startswith("/v2/_catalog") for p in proxy.paths)
    assert result.code == 3
    assert pages == 30  # 30 read, and a link to a 31st
    assert result.messages[-1] == "error\trepository catalog: more than 30 pages; the listing does not end"
    assert "Traceback" not in result.err


def test_a_400_that_does_not_name_the_page_size_is_an_error(tcs, anonymous_registry):
    """Only PAGINATION_NUMBER_INVALID (or a message naming the size parameter) makes the page smaller:
    any other 400 is the registry's answer, said once, not asked again with ever smaller pages."""

    def refuse(path, *_):
        if path.startswith("/v2/_catalog"):
            body = {"message": "catalog listing is disabled"}  # no V2 error code
            return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return None

    with Proxy(anonymous_registry.url, refuse) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        assert [p for p in proxy.paths if p.startswith("/v2/_catalog")] == ["/v2/_catalog?n=1000"]
    assert result.code == 3
    assert result.messages[-1] == ("error\trepository catalog: the registry answered 400 (catalog listing is disabled)")


def _doubled(path, session, upstream):
    """Every name listed twice: pages by offset that overlap (a repository or a tag came meanwhile)."""
    parts = urlsplit(path)
    if not (parts.path == "/v2/_catalog" or parts.path.endswith("/tags/list")):
        return None
    answer = session.get(upstream + path)
    if answer.status_code != 200:
        return None
    body = answer.json()
    key = "repositories" if parts.path == "/v2/_catalog" else "tags"
    body[key] = (body[key] or []) * 2
    headers = {
        "Content-Type": "application/json",
        **({"Link": answer.headers["Link"]} if "Link" in answer.headers else {}),
    }
    return 200, headers, json.dumps(body).encode()


@pytest.mark.parametrize("mode", ["dry-run", "scan"])
def test_names_listed_twice_are_taken_once(tcs, anonymous_registry, standard, out_dir, mode):
    """A repository or tag listed twice is one image: reported once, counted once; a scan of a tag
    listed twice stopped the run with the store's UNIQUE constraint, every run after it too."""
    with Proxy(anonymous_registry.url, _doubled) as proxy:
        host = urlsplit(proxy.url).netloc
        result = tcs(
            "registry", proxy.url, f"--mode={mode}", *(["--allowList=alpine,team/*"] if mode == "scan" else [])
        )
    assert result.code == 0, result.err
    assert f"Total images found    : {len(standard.expected)} tags\n" in result.out
    if mode == "dry-run":
        rows = csv_rows(out_dir / (host.replace(".", "-").replace(":", "-") + "-report.csv"))
        assert rows == expected_rows(host, standard.expected)
    else:
        scanned = [m.split()[3] for m in result.messages if m.startswith("info\tScanned image image=")]
        wanted = [e for e in standard.expected if e.repository == "alpine" or e.repository.startswith("team/")]
        assert sorted(scanned) == sorted(f"image={host}/{e.repository}:{e.tag}" for e in wanted)
