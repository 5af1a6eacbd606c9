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
