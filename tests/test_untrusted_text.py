"""Property tests for the parsers that read untrusted text — WWW-Authenticate and Link headers, manifests
and indexes, patterns, config files, registry URLs, package databases: any input gives a result or
the project's own error (one line), never a crash."""

from __future__ import annotations

import contextlib
import json
import re

import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tcs_registry.analysis.parsers import apk, dpkg
from tcs_registry.errors import ImageError, RegistryError, UsageError
from tcs_registry.http import RegistryClient, parse_challenges
from tcs_registry.models import Credentials, Registry
from tcs_registry.oci import INDEX_TYPES, OCI_MANIFEST, parse_manifest
from tcs_registry.patterns import ImageFilter
from tcs_registry.settings import load_config, parse_registry_url

FAST = settings(max_examples=300, deadline=None, derandomize=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
header_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80) | st.from_regex(
    r'(Bearer|Basic|bearer)( [a-z]+="[^"]*"(,\s*[a-z]+=("[^"]*"|[^,\s]*))*)?', fullmatch=True
)


@FAST
@given(header_text)
def test_www_authenticate(header):
    for challenge in parse_challenges(header):
        assert challenge.scheme == challenge.scheme.lower()
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in challenge.params.items())


link_text = header_text | st.from_regex(r'<[^>]{0,40}>; rel="next"', fullmatch=True)
LINK_CLIENT = RegistryClient(Registry("https://reg.example", "https", "reg.example", "", "DEFAULT_V2"), Credentials())


@FAST
@given(link_text)
@example('<//[x>; rel="next"')  # not a URL at all
@example('<http://reg.example/v2/_catalog?last=a>; rel="next"')  # a downgrade
@example('<https://elsewhere.example/v2/_catalog?last=a>; rel="next"')  # another host, still HTTPS
def test_link_header(header):
    """What paginate does with a Link header: the next page's URL, absolute and HTTPS as the registry
    is, or the project's one-line error."""
    response = requests.Response()
    response.headers["Link"] = header
    link = response.links.get("next", {}).get("url")
    if not link:
        return
    try:
        url = LINK_CLIENT._follow("https://reg.example/v2/_catalog?n=1000", link, "catalog")
    except RegistryError:
        return
    assert url.startswith("https://")


def test_a_link_that_is_no_url_or_a_downgrade_is_one_error_line():
    import pytest

    current = "https://reg.example/v2/_catalog?n=1000"
    for link, problem in (
        ("//[x", "the registry linked to an unusable URL //[x"),
        ("http://reg.example/v2/_catalog?last=a", "the registry linked from HTTPS to plain HTTP"),
    ):
        with pytest.raises(RegistryError, match=rf"^catalog: {re.escape(problem)}"):
            LINK_CLIENT._follow(current, link, "catalog")
    assert LINK_CLIENT._follow(current, "/v2/_catalog?last=a", "catalog") == "https://reg.example/v2/_catalog?last=a"


descriptors = st.fixed_dictionaries(
    {}, optional={"mediaType": json_values, "digest": json_values | st.just("sha256:" + "a" * 64), "size": json_values}
)
manifests = st.fixed_dictionaries(
    {},
    optional={
        "schemaVersion": json_values,
        "mediaType": st.sampled_from([OCI_MANIFEST, *INDEX_TYPES, "", "text/html"]) | json_values,
        "config": descriptors | json_values,
        "layers": st.lists(descriptors | json_values, max_size=3) | json_values,
        "manifests": st.lists(descriptors | json_values, max_size=3) | json_values,
    },
)


@FAST
@given(manifests | json_values, st.sampled_from(["application/json", OCI_MANIFEST, "text/html; charset=utf-8"]))
def test_manifests_and_indexes(document, content_type):
    body = json.dumps(document).encode()
    try:
        parse_manifest(body, content_type, "sha256:" + "0" * 64, "reg/app:1")
    except ImageError as exc:
        assert "\n" not in str(exc)


@FAST
@given(st.binary(max_size=200))
def test_manifest_bytes(body):
    with contextlib.suppress(ImageError):
        parse_manifest(body, "application/json", "", "reg/app:1")


@FAST
@given(st.text(max_size=60), st.text(max_size=60), st.text(max_size=30), st.text(max_size=30))
def test_patterns(allow, deny, repository, tag):
    try:
        image_filter = ImageFilter.from_strings(allow, deny)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert image_filter.admits(repository, tag) in (True, False)


@FAST
@given(st.text(max_size=80))
def test_registry_urls(text):
    try:
        scheme, host, _ = parse_registry_url(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert scheme in ("http", "https") and host


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(max_size=200)
    | st.from_regex(r'([a-z_]+ = ("[^"\n]*"|[0-9]+|true|\[\]|\{\}))?(\n[a-z_.]+ = .*)*', fullmatch=True)
)
def test_config_files(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("config") / "config"
    path.write_text(text)
    try:
        config, _ = load_config(str(path))
    except UsageError as exc:
        assert "\n" not in str(exc).strip()
        return
    assert isinstance(config, dict)


package_text = st.text(max_size=300) | st.lists(
    st.sampled_from(
        [
            "Package: a",
            "Version: 1:2.0-1",
            "Status: install ok installed",
            "Source: b (3.0)",
            "Architecture: all",
            "P:musl",
            "V:1.2.4-r0",
            "o:musl",
            "A:x86_64",
            "",
            " continued",
            "Version:",
            "Source: (",
            "\x00",
        ]
    ),
    max_size=12,
).map("\n".join)


@FAST
@given(package_text)
def test_package_databases(text):
    for parse in (dpkg.parse_status, apk.parse_installed):
        try:
            packages = parse(text.encode())
        except ValueError:
            continue
        assert all(isinstance(p, dict) and p.get("name") for p in packages)
