"""Ignore rules (.tcsignore), --severity and --skip-checks, as people who scan registries every day use
them: findings judged and set aside are counted as ignored, never silently dropped, and come back when
their rule expires."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tcs_registry.results import results_dir
from tcs_registry.testing.images import Pusher
from tcs_registry.testing.vulnerable import push_python_app

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def python_app(fresh_registry):
    push_python_app(Pusher(fresh_registry.url))
    return fresh_registry


@pytest.fixture
def database(tcs, state_dir):
    assert tcs("db", "import", str(FIXTURES / "osv"), f"--state-dir={state_dir}").code == 0


RULES = """
[[ignore]]
id = "CVE-2024-3651"
package = "idna"
reason = "idna only parses our own host names"

[[ignore]]
id = "ghsa-9c47-m6qq-7p4h"            # an alias of CVE-2022-46175, in any case
repository = "apps/*"
reason = "json5 is a build-time tool"
expires = 2099-12-31

[[ignore]]
id = "TCS-CFG-007"
repository = "apps/python:1"
reason = "the debug sshd is firewalled"

[[ignore]]
id = "CVE-2023-43804"
reason = "waiting for the next base image"
expires = "2025-01-31"               # long past: applies no more, and says so

[[ignore]]
id = "CVE-2023-32681"
repository = "other/*"               # another repository's rule
reason = "not this image"
"""


def scan(tcs, registry, *flags: str):
    return tcs("registry", registry.url, "--format=table,json", *flags)


def summary(out: str) -> dict[str, str]:
    lines = out.splitlines()
    return {
        k.strip(): v.strip()
        for k, _, v in (line.partition(":") for line in lines[lines.index("Registry Summary:") + 1 :])
    }


def test_ignored_findings_are_counted_apart_kept_with_their_reason_and_expire_loudly(
    tcs, python_app, database, out_dir, isolated, state_dir
):
    (isolated / ".tcsignore").write_text(RULES)
    result = scan(tcs, python_app, "--fail-on=high")
    assert (
        "warn\tThe ignore rule for CVE-2023-43804 in .tcsignore expired on 2025-01-31: its findings count again"
        " (it said: waiting for the next base image)" in result.messages
    )
    assert "info\tIgnore rules: 4 in .tcsignore" in result.messages
    counts = summary(result.out)
    assert counts["Ignored findings"] == "3 (the rules in .tcsignore)"
    assert counts["Vulnerability details"].startswith("3 in 1 of 1 image platform (2 medium, 1 unknown) in ")
    assert counts["Violation details"].startswith("3 in 1 of 1 image platform (2 critical, 1 medium) in ")
    assert result.code == 1  # the critical violations still fail the run; the ignored HIGH json5 does not count

    document = json.loads((results_dir(out_dir, python_app.host) / "apps/python/1.json").read_text())
    assert sorted(v["id"] for v in document["vulnerabilities"]) == [
        "CVE-2020-26137",
        "CVE-2023-32681",
        "CVE-2023-43804",
    ]
    assert [(i["kind"], i["id"], i["ignored_because"]) for i in document["ignored"]] == [
        ("vulnerability", "CVE-2022-46175", "json5 is a build-time tool"),
        ("vulnerability", "CVE-2024-3651", "idna only parses our own host names"),
        ("violation", "TCS-CFG-007", "the debug sshd is firewalled"),
    ]
    assert not [line for line in result.out.splitlines() if "CVE-2024-3651" in line]  # not in the tables

    # a second scan with the same rules: nothing is "fixed" for being ignored
    again = scan(tcs, python_app)
    assert again.code == 0
    changes = json.loads(tcs("results", f"--state-dir={state_dir}", "--changes", "--format=json").out)
    assert changes["changes"] == []
    (isolated / ".tcsignore").unlink()  # the rules gone: the findings are there again, not new
    assert scan(tcs, python_app).code == 0
    assert json.loads(tcs("results", f"--state-dir={state_dir}", "--changes", "--format=json").out)["changes"] == []


def test_the_ignore_file_beside_the_config_or_named(tcs, python_app, database, isolated, tmp_path):
    home = isolated.parent / "home" / ".accurics"
    home.mkdir()
    (home / "config").write_text('project = "team"\n')
    (home / ".tcsignore").write_text('[[ignore]]\nid = "TCS-CFG-002"\nreason = "a test key"\n')
    beside = scan(tcs, python_app)
    assert summary(beside.out)["Ignored findings"] == f"1 (the rules in {home / '.tcsignore'})"
    named = tmp_path / "rules.toml"
    named.write_text('[[ignore]]\nid = "TCS-CFG-003"\nreason = "a test token"\n')
    chosen = scan(tcs, python_app, f"--ignore-file={named}")
    assert summary(chosen.out)["Ignored findings"] == f"1 (the rules in {named})"
    missing = scan(tcs, python_app, f"--ignore-file={tmp_path / 'nope'}")
    assert (missing.code, missing.messages[-1]) == (
        2,
        f"error\t--ignore-file '{tmp_path / 'nope'}' does not exist or is not a file",
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[[ignore]]\nid = "CVE-1"\n', "rule 1: 'reason' is required (a non-empty string)"),
        (
            '[[ignore]]\nid = "CVE-1"\nreason = "x"\nexpires = "soon"\n',
            "rule 1: 'expires' 'soon' is not a date: use YYYY-MM-DD",
        ),
        (
            '[[ignore]]\nid = "CVE-1"\nreason = "x"\nuntil = 2027-01-01\n',
            "rule 1: unknown key 'until' (known: expires, id, package, reason, repository)",
        ),
        (
            '[[ignore]]\nid = "CVE-1"\nreason = "x"\nrepository = "team/api:"\n',
            "rule 1: 'repository': image pattern 'team/api:' has an empty tag: use 'team/api:*' for every tag",
        ),
        ("CVE-2024-3651\n", "is not valid TOML: "),
        ('[ignore]\nid = "x"\n', "holds [[ignore]] tables only, not '[ignore]'"),
    ],
)
def test_a_bad_ignore_file_is_one_line(tcs, python_app, isolated, text, error):
    (isolated / ".tcsignore").write_text(text)
    result = scan(tcs, python_app)
    assert result.code == 2
    assert len(result.messages) == 1 and result.messages[0].startswith("error\t")
    assert error in result.messages[0]
    assert "the ignore file '.tcsignore'" in result.messages[0]  # which file to mend


def test_severity_shows_and_fails_on_only_those_and_the_store_keeps_all(tcs, python_app, database, state_dir):
    result = scan(tcs, python_app, "--severity=critical,high", "--fail-on=low")
    counts = summary(result.out)
    assert counts["Vulnerability details"].startswith("1 in 1 of 1 image platform (1 high) in ")
    assert counts["Vulnerability details"].endswith(" (only CRITICAL, HIGH: --severity)")
    assert counts["Violation details"].startswith("2 in 1 of 1 image platform (2 critical) in ")
    assert result.code == 1
    low = scan(tcs, python_app, "--severity=low", "--fail-on=low")
    assert low.code == 0  # nothing LOW: the MEDIUM, HIGH and CRITICAL findings are not shown or failed on
    assert summary(low.out)["Vulnerability details"] == "none found in 1 image platform (only LOW: --severity)"
    stored = json.loads(tcs("results", f"--state-dir={state_dir}", "--image=apps/python:1", "--format=json").out)
    assert len(stored["vulnerabilities"]) == 5 and len(stored["violations"]) == 4
    bad = scan(tcs, python_app, "--severity=severe")
    assert (bad.code, bad.messages) == (
        2,
        ["error\tunknown --severity 'severe': use CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN (with commas)"],
    )


def test_skip_checks_leaves_those_checks_out(tcs, python_app, database, out_dir, state_dir):
    assert scan(tcs, python_app).code == 0
    result = scan(tcs, python_app, "--skip-checks=TCS-CFG-002,tcs-cfg-003")
    document = json.loads((results_dir(out_dir, python_app.host) / "apps/python/1.json").read_text())
    assert sorted(c["id"] for c in document["violations"]) == ["TCS-CFG-005", "TCS-CFG-007"]
    assert result.code == 0
    # left out of what is shown, not of the store: nothing is "fixed" for being skipped
    assert json.loads(tcs("results", f"--state-dir={state_dir}", "--changes", "--format=json").out)["changes"] == []
    bad = scan(tcs, python_app, "--skip-checks=TCS-CFG-099")
    assert bad.code == 2
    assert bad.messages == [
        "error\tunknown --skip-checks 'TCS-CFG-099': the built-in checks are TCS-CFG-001, TCS-CFG-002, TCS-CFG-003,"
        " TCS-CFG-004, TCS-CFG-005, TCS-CFG-006, TCS-CFG-007, TCS-CFG-008 and the secret rules TCS-SECRET-<RULE>"
        " (TCS-SECRET-AWS-ACCESS-KEY-ID; `--no-secrets`: none)"
    ]
