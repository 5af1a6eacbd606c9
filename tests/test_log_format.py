"""--log-format json: every log line one JSON object (time, level, message, the seed's key=value fields
apart), for log collectors; the tab format stays the default."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys

import pytest

from tcs_registry import progress
from tcs_registry.logs import SeedFormatter, fields
from tcs_registry.testing.fixtures import USERS


def test_every_line_is_one_json_object_with_its_fields(tcs, basic_registry, standard):
    result = tcs(
        "registry", basic_registry.url, "--mode=dry-run", "--log-format=json", "--username=alice",
        f"--password={USERS['alice']}",
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.err.splitlines()]
    assert all(set(line) == {"time", "level", "message", "fields"} for line in lines)
    # RFC 3339, as collectors parse it: the offset with its colon
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", line["time"]) for line in lines)
    assert lines[0]["level"] == "warn"  # the password on the command line
    assert {
        "time": lines[1]["time"],
        "level": "info",
        "message": "Identified registry as: DEFAULT_V2",
        "fields": {},
    } == lines[1]
    fetched = [line["fields"]["image"] for line in lines if line["message"] == "Fetched image discovery details"]
    assert sorted(fetched) == sorted(f"{basic_registry.host}/{e.repository}:{e.tag}" for e in standard.expected)
    assert USERS["alice"] not in result.err
    assert "Registry Summary:" in result.out  # the summary is unchanged, on standard output


def test_the_environment_chooses_it_and_a_wrong_value_is_one_line(tcs, anonymous_registry, monkeypatch):
    monkeypatch.setenv("TCS_LOG_FORMAT", "json")
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run")
    assert result.code == 0 and json.loads(result.err.splitlines()[0])["level"] == "info"
    wrong = tcs("registry", anonymous_registry.url, "--mode=dry-run", "--log-format=xml")
    assert wrong.code == 2
    assert "Invalid value for '--log-format': 'xml' is not one of 'tab', 'json'." in wrong.err
    # an error in the other arguments is a JSON line too, whichever way JSON was asked for
    for bad in (["--log-format=json", "--concurrency=abc"], ["--log-format", "json", "--bogus"], ["--bogus"]):
        refused = tcs("registry", anonymous_registry.url, "--mode=dry-run", *bad)
        assert refused.code == 2
        [line] = refused.err.splitlines()
        assert json.loads(line)["level"] == "error", line


def test_fields_are_read_off_the_template_whatever_their_values_hold():
    record = logging.LogRecord(
        "tcs_registry", logging.ERROR, __file__, 1, "Failed to describe image image=%s error=%s",
        ("host/a:b", "the registry answered 400 (n=5 is too big) x=y"), None,
    )  # fmt: skip
    assert fields(record) == (
        "Failed to describe image",
        {"image": "host/a:b", "error": "the registry answered 400 (n=5 is too big) x=y"},
    )
    plain = logging.LogRecord("tcs_registry", logging.INFO, __file__, 1, "Resuming run %d: %s", (3, "why"), None)
    assert fields(plain) == ("Resuming run 3: why", {})


@pytest.mark.parametrize(
    ("template", "args", "expected"),
    [
        (  # a value of several conversions, text after the fields
            "Skipped image=%s/%s:%s reason=%s (by its tag)",
            ("reg:5000", "app", "1.0", "a cosign signature"),
            ("Skipped (by its tag)", {"image": "reg:5000/app:1.0", "reason": "a cosign signature"}),
        ),
        ("Resumed images=%d from run %d", (12, 3), ("Resumed from run 3", {"images": 12})),
        (  # a field of one numeric conversion is a number (as formatted); one of %s text, whatever it holds
            "Sent sent=%d rate=%.1f in_flight=%s most=%s took=%.1f%%",
            (21003, 12.345, 25.0, 64, 99.5),
            ("Sent", {"sent": 21003, "rate": 12.3, "in_flight": "25.0", "most": "64", "took": "99.5%"}),
        ),
        (
            "Analysis skipped a file image=%s %s",
            ("reg/app:1", "etc/shadow: not a regular file"),
            ("Analysis skipped a file etc/shadow: not a regular file", {"image": "reg/app:1"}),
        ),
        (
            "Tag moved since run %s, describing it again image=%s/%s:%s",
            (3, "reg", "app", "latest"),
            ("Tag moved since run 3, describing it again", {"image": "reg/app:latest"}),
        ),
        ("Took 100%% of it took=%.1f%%", (99.5,), ("Took 100% of it", {"took": "99.5%"})),
    ],
)
def test_every_argument_is_in_the_message_or_a_field(template, args, expected):
    record = logging.LogRecord("tcs_registry", logging.INFO, __file__, 1, template, args, None)
    assert fields(record) == expected


def test_a_tab_in_what_a_layer_holds_is_no_fourth_column():
    record = logging.LogRecord(
        "tcs_registry", logging.WARNING, __file__, 1, "Analysis skipped a file image=%s %s",
        ("reg/app:1", "etc/a\tinfo\tforged: not a regular file"), None,
    )  # fmt: skip
    line = SeedFormatter().format(record)
    assert line.split("\t")[1:] == [
        "warn",
        "Analysis skipped a file image=reg/app:1 etc/a\\tinfo\\tforged: not a regular file",
    ]


def test_a_field_keeps_one_type_in_every_line(tcs, big_registry, monkeypatch):
    """A collector maps each field to one type: the Progress lines' in_flight and the last line's are
    both text; found, done and sent numbers."""
    monkeypatch.setattr(progress, "PERIOD", 0.05)
    result = tcs("registry", big_registry.url, "--mode=dry-run", "--log-format=json")
    assert result.code == 0, result.err
    types: dict[str, set[str]] = {}
    for line in result.err.splitlines():
        for key, value in json.loads(line)["fields"].items():
            types.setdefault(key, set()).add(type(value).__name__)
    assert {key: kinds for key, kinds in types.items() if len(kinds) > 1} == {}
    assert types["in_flight"] == {"str"} and types["found"] == types["sent"] == {"int"}


def test_libraries_records_go_to_standard_error_as_it_is_then():
    """The root logger's handler (the libraries' records, in our format) outlives a run in a process that
    runs several (a test kit, an embedding program): it writes to standard error as it is when the record
    comes, never to a stream closed since. An embedding program's own root handler is left alone."""
    script = (
        "import io, logging, sys\n"
        "from tcs_registry import logs\n"
        "logs.setup(0, 'json')\n"
        "sys.stderr = first = io.StringIO(); first.close()\n"
        "sys.stderr = later = io.StringIO()\n"
        "logging.getLogger('some.library').error('a library error')\n"
        "logging.getLogger('some.library').warning('a library warning')\n"
        "sys.stdout.write(later.getvalue())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    [line] = [json.loads(text) for text in done.stdout.splitlines()]  # (the warning: with -v only)
    assert (line["level"], line["message"]) == ("error", "a library error")
    embedded = (
        "import logging\nlogging.basicConfig()\nfrom tcs_registry import logs\nlogs.setup(0)\n"
        "print(len(logging.getLogger().handlers))"
    )
    assert subprocess.run([sys.executable, "-c", embedded], capture_output=True, text=True).stdout.strip() == "1"
