"""Allow/deny patterns: every example of the seed's definition."""

from __future__ import annotations

import pytest

from tcs_registry.errors import UsageError
from tcs_registry.patterns import ImageFilter, Pattern

IMAGES = [
    ("foo", "bar"),
    ("foo", "latest"),
    ("foobar", "bar"),
    ("team/foo", "bar"),
    ("team/foo", "baz"),
    ("a/b/foo", "bar"),
    ("foo/x/bar", "baz"),
    ("foo/x/y/bar", "baz"),
    ("foo/bar", "baz"),
    ("x/foo/y", "1.0"),
    ("x/foo", "1.0"),
    ("afoo", "bar"),
    ("foo/x/bar", "baz2"),
]


@pytest.mark.parametrize(
    ("pattern", "matching"),
    [
        ("*", set(IMAGES)),
        ("foo:*", {("foo", "bar"), ("foo", "latest")}),
        ("foo", {("foo", "bar"), ("foo", "latest")}),
        ("*:bar", {("foo", "bar"), ("foobar", "bar"), ("team/foo", "bar"), ("a/b/foo", "bar"), ("afoo", "bar")}),
        # a leading "*/" needs at least one "/" before foo; "*" itself spans "/"
        ("*/foo:bar", {("team/foo", "bar"), ("a/b/foo", "bar")}),
        ("foo/*/bar:baz", {("foo/x/bar", "baz"), ("foo/x/y/bar", "baz")}),
        ("*/foo/*:*", {("x/foo/y", "1.0")}),
        (
            "foo*",
            {
                ("foo", "bar"),
                ("foo", "latest"),
                ("foobar", "bar"),
                ("foo/x/bar", "baz"),
                ("foo/x/y/bar", "baz"),
                ("foo/bar", "baz"),
                ("foo/x/bar", "baz2"),
            },
        ),
        ("foo/x/bar:baz*", {("foo/x/bar", "baz"), ("foo/x/bar", "baz2")}),
    ],
)
def test_seed_examples(pattern, matching):
    compiled = Pattern.parse(pattern)
    assert {image for image in IMAGES if compiled.matches(*image)} == matching


def test_whole_string_never_substring():
    assert not Pattern.parse("oo").matches("foo", "x")
    assert not Pattern.parse("foo:ba").matches("foo", "bar")
    assert not Pattern.parse("team").matches("team/foo", "bar")


def test_deny_wins_over_allow():
    image_filter = ImageFilter.from_strings("team/*", "*:*-debug,team/secret")
    assert image_filter.admits("team/api", "1.0")
    assert not image_filter.admits("team/api", "1.0-debug")
    assert not image_filter.admits("team/secret", "1.0")
    assert not image_filter.admits("other/api", "1.0")


def test_a_repository_denied_for_every_tag_is_left_out_whole():
    """What discovery asks before listing a repository's tags; '**' is '*'."""
    for deny in ("bad", "bad:*", "bad:**", "b*d:***"):
        image_filter = ImageFilter.from_strings("*", deny)
        assert not image_filter.may_admit("bad"), deny
        assert image_filter.may_admit("good"), deny
    assert ImageFilter.from_strings("*", "bad:1*").may_admit("bad")  # some of its tags may pass


def test_default_allows_everything_and_lists_from_config():
    assert ImageFilter.from_strings(None, None).admits("any/thing", "v1")
    image_filter = ImageFilter.from_strings(["a", "b:1"], ["a:old"])
    assert image_filter.admits("a", "new") and image_filter.admits("b", "1")
    assert not image_filter.admits("a", "old") and not image_filter.admits("b", "2")


@pytest.mark.parametrize("bad", ["", " ", "a,,b", "Foo", "host:5000/app:1", ":tag", "app:t@g"])
def test_patterns_that_cannot_match_are_refused(bad):
    with pytest.raises(UsageError):
        ImageFilter.from_strings(bad, None)


PART = (
    "can never match: each part of a repository between '/' (none empty) begins and ends with a-z or 0-9, with"
    " one '.', '_', '__' or a run of '-' between them"
)
TAG = "can never match: a tag holds only A-Z, a-z, 0-9, '.', '_', '-' (and '*'), and begins with none of '.', '-'"


@pytest.mark.parametrize(
    ("typo", "why"),
    [
        ("team/", PART),  # (a CI variable left empty: team/$NAME)
        ("team//api", PART),
        ("/team/*", PART),
        ("-team", PART),
        ("team/.cache", PART),
        ("team/a..b", PART),
        ("team/*_", PART),
        ("team/api:-debug", TAG),
        ("team/api:.x", TAG),
    ],
)
def test_a_pattern_no_name_can_match_is_refused_saying_why(typo, why):
    """Off the distribution grammar (no registry holds such a name), each a green CI run that scanned nothing."""
    with pytest.raises(UsageError) as refused:
        ImageFilter.from_strings(typo, None)
    assert str(refused.value) == f"image pattern {typo!r} {why}"


@pytest.mark.parametrize("fine", ["*", "*-debug", "team/*-debug", "a__b/c--d", "*__*", "a_*", "*.*", "*:*-debug"])
def test_patterns_at_the_edge_of_the_grammar_are_taken(fine):
    assert ImageFilter.from_strings(fine, None)


@pytest.mark.parametrize(
    ("pattern", "host"),
    [
        ("registry.example.com/team/*", "registry.example.com"),
        ("REGISTRY.example.com/team/*", "registry.example.com:443"),
        ("registry.example.com:5000/team/*", None),
        ("localhost/team/*:1.0", None),
        ("127.0.0.1:5000/team/*", "127.0.0.1:5000"),
    ],
)
def test_a_pattern_naming_a_registry_host_is_refused_naming_it(pattern, host):
    first, _, rest = pattern.partition("/")
    with pytest.raises(UsageError) as refused:
        ImageFilter.from_strings(pattern, None, host)
    assert str(refused.value) == (
        f"image pattern {pattern!r} names a registry host ({first}): a pattern is repository[:tag] within the"
        f" registry scanned; leave the host out: {rest!r}"
    )
    with pytest.raises(UsageError):
        ImageFilter.from_strings(None, pattern, host)  # a deny pattern alike


def test_a_repository_whose_first_part_has_a_dot_is_still_a_pattern():
    """Harbor projects may hold dots (``my.project/app``): only the registry's own host is refused."""
    assert ImageFilter.from_strings("my.project/*", None, "harbor.example.com").admits("my.project/app", "1")


def test_an_allow_pattern_that_admits_nothing_is_warned_about(tcs, fresh_registry, pusher):
    from tcs_registry.testing.images import make_layer

    pusher.image("team/app", "1", created="2024-01-01T00:00:00Z", layers=[make_layer({"a": b"1"})])
    result = tcs("registry", fresh_registry.url, "--mode=dry-run", "--allowList=team/*,registry.example.com/team/*")
    assert result.code == 0
    assert [m for m in result.messages if m.startswith("warn\t")] == [
        "warn\tNo image matched the allow pattern 'registry.example.com/team/*' (a pattern is repository[:tag],"
        " without the registry host)"
    ]
    denied = tcs("registry", fresh_registry.url, "--mode=dry-run", "--allowList=team/*", "--denyList=team/app")
    assert [m for m in denied.messages if m.startswith("warn\t")] == [  # matched, then taken out: said so
        "warn\tEvery image the allow pattern 'team/*' matched is denied (--denyList)"
    ]
    refused = tcs("registry", fresh_registry.url, "--mode=dry-run", f"--allowList={fresh_registry.host}/team/*")
    assert refused.code == 2
    assert refused.messages == [
        f"error\timage pattern '{fresh_registry.host}/team/*' names a registry host ({fresh_registry.host}): a"
        " pattern is repository[:tag] within the registry scanned; leave the host out: 'team/*'"
    ]


def test_shards_do_not_warn_about_patterns_the_other_shares_matched(tcs, fresh_registry, pusher):
    from tcs_registry.testing.images import make_layer

    for n in range(6):
        pusher.image(f"team/app{n}", "1", created="2024-01-01T00:00:00Z", layers=[make_layer({"a": str(n).encode()})])
    patterns = ",".join(f"team/app{n}" for n in range(6))
    for shard in ("1/2", "2/2"):
        result = tcs(
            "registry",
            fresh_registry.url,
            "--mode=dry-run",
            f"--allowList={patterns}",
            f"--shard={shard}",
            "--scan-id=s",
        )
        assert result.code == 0
        assert not [m for m in result.messages if "No image matched" in m]
