"""The config and history checks on the shapes real builds leave (the classic builder's and BuildKit's
history lines, official images' ENV), for the cases a careless build and a careful one differ on."""

from __future__ import annotations

from datetime import UTC, datetime

from tcs_registry.models import Package
from tcs_registry.vulns.checks import check_image

NOW = datetime(2026, 11, 27, tzinfo=UTC)
CAREFUL = {"User": "app", "Healthcheck": {"Test": ["CMD", "true"]}}


def found(config: dict, packages=()) -> list[tuple[str, str]]:
    return [(v.id, v.detail) for v in check_image(config, packages, now=NOW)]


def test_a_careful_image_has_no_violation():
    # the ENV of official images: public key ids, checksums, versions, settings
    env = [
        "PATH=/usr/local/bin:/usr/bin",
        "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
        "PYTHON_SHA256=8fb5f9fbc7609fa822cb31549884575db7fd9657cbffb89510b5d7975963a83a",
        "NODE_VERSION=20.11.0",
        "ALLOW_EMPTY_PASSWORD=yes",
        "MYSQL_RANDOM_ROOT_PASSWORD=true",
        "POSTGRES_PASSWORD_FILE=/run/secrets/db",
        "TOKEN_URL=https://auth.example.com/token",
    ]
    history = [
        {"created": "2026-10-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:0a1b in / "},
        {"created": "2026-10-02T00:00:00Z", "created_by": "RUN /bin/sh -c apt-get install -y curl # buildkit"},
        {"created": "2026-10-02T00:00:00Z", "created_by": "RUN |1 VERSION=1.2 /bin/sh -c make # buildkit"},
    ]
    assert found({"config": {**CAREFUL, "Env": env}, "history": history}) == []


def test_root_user_and_no_healthcheck():
    assert found({"config": {"User": "0:0"}}) == [
        ("TCS-CFG-001", "USER is '0:0'"),
        ("TCS-CFG-004", "the config has no Healthcheck"),
    ]
    disabled = {"config": {"User": "root", "Healthcheck": {"Test": ["NONE"]}}}
    assert [v for v, _ in found(disabled)] == ["TCS-CFG-001", "TCS-CFG-004"]


def test_secrets_in_env_by_name_or_shape_never_with_their_value():
    env = [
        "PGPASSWORD=hunter2hunter2",
        "SECRET_KEY_BASE=0123456789abcdef",
        "DATABASE_URL=postgres://app:s3cr3tpw@db:5432/app",
        "SLACK=xoxb-123456789012-abcdefghij",
    ]
    violations = check_image({"config": {**CAREFUL, "Env": env}}, (), now=NOW)
    assert [(v.id, v.severity, v.detail) for v in violations] == [
        ("TCS-CFG-002", "CRITICAL", "ENV PGPASSWORD (value withheld)"),
        ("TCS-CFG-002", "CRITICAL", "ENV SECRET_KEY_BASE (value withheld)"),
        ("TCS-CFG-002", "CRITICAL", "ENV DATABASE_URL (value withheld)"),
        ("TCS-CFG-002", "CRITICAL", "ENV SLACK (value withheld)"),
    ]
    text = repr(violations)
    assert not any(secret in text for secret in ("hunter2", "0123456789abcdef", "s3cr3tpw", "xoxb-"))


def test_secrets_in_build_history_from_either_builder():
    history = [
        {"created_by": "|1 NPM_TOKEN=npm_abcdefghijklmnopqrstuvwxyz0123456789 /bin/sh -c npm ci"},
        {"created_by": "RUN |2 NPM_TOKEN=abc123abc123 MODE=prod /bin/sh -c npm ci # buildkit"},
        {"created_by": "RUN /bin/sh -c aws configure set aws_secret_access_key AbCdEf # buildkit"},
        {"created_by": "RUN /bin/sh -c docker login -u ci -p hunter2 registry.example.com # buildkit"},
        {"created_by": "RUN --mount=type=secret,id=npm /bin/sh -c npm ci # buildkit"},
    ]
    assert found({"config": CAREFUL, "history": history}) == [
        ("TCS-CFG-003", "history step 1: build argument NPM_TOKEN, a credential-shaped value (value withheld)"),
        ("TCS-CFG-003", "history step 2: build argument NPM_TOKEN (value withheld)"),
        ("TCS-CFG-003", "history step 3: a login with an inline credential (value withheld)"),
        ("TCS-CFG-003", "history step 4: a login with an inline credential (value withheld)"),
    ]


def test_add_from_a_url_never_shows_the_credentials_in_it():
    history = [
        {"created_by": "ADD https://deploy:glpat-abcdefghij0123456789@git.example.com/x.tgz?private_token=t0k /opt/"},
        {"created_by": "/bin/sh -c #(nop) ADD https://example.com/tool.tgz /opt/"},
        {"created_by": "COPY https-notes.txt /opt/ # buildkit"},
    ]
    violations = found({"config": CAREFUL, "history": history})
    assert violations == [
        ("TCS-CFG-003", "history step 1: a credential-shaped value (value withheld)"),
        ("TCS-CFG-005", "history step 1: ADD https://git.example.com/x.tgz"),
        ("TCS-CFG-005", "history step 2: ADD https://example.com/tool.tgz"),
    ]


def test_sudo_ssh_and_old_base():
    sudo = Package("sudo", "1.9.13p3-1", "deb", "Debian:12", "pkg:deb/debian/sudo@1.9.13p3-1", "x", "sha256:0")
    config = {
        "config": {**CAREFUL, "ExposedPorts": {"22/tcp": {}}},
        "history": [{"created": "2023-06-10T00:00:00Z", "created_by": "ADD file:abc in /"}],
        "created": "2026-11-01T00:00:00Z",
    }
    assert found(config, [sudo]) == [
        ("TCS-CFG-006", "package sudo is installed"),
        ("TCS-CFG-007", "EXPOSE 22"),
        ("TCS-CFG-008", "base layer built 2023-06-10, over a year before the scan"),
    ]
    run_sudo = {"config": CAREFUL, "history": [{"created_by": "RUN /bin/sh -c sudo apt-get update # buildkit"}]}
    assert found(run_sudo) == [("TCS-CFG-006", "history step 1 runs sudo")]
    # reproducible builds stamp 1970: not an old base
    assert found({"config": CAREFUL, "created": "1970-01-01T00:00:00Z"}) == []


def test_hostile_config_text_costs_linear_time_end_to_end(tcs, fresh_registry, pusher):
    """An Env value and history lines of 160,000 characters shaped against the checks' patterns (a run
    of letters before no "://", "-c" and a run of spaces): the scan takes seconds, not the minutes the
    quadratic patterns took with the interpreter lock held, and the benign image beside it is scanned."""
    import time

    from tcs_registry.testing.images import make_layer

    size = 160_000
    layer = make_layer({"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n"})
    hostile = {
        "config": {"Env": [f"X={'a' * size}", f"URL=https://{'b' * size}"], "User": "app"},
        "history": [{"created_by": "/bin/sh -c" + " " * size + "x"}, {"created_by": "a" * size + "://x"}],
    }
    pusher.image("evil/app", "1", created="2026-11-01T00:00:00Z", layers=[layer], extra_config=hostile)
    pusher.image("good/app", "1", created="2026-11-01T00:00:00Z", layers=[layer])
    started = time.perf_counter()
    result = tcs("registry", fresh_registry.url)
    assert result.code == 0, result.err
    assert time.perf_counter() - started < 20
    scanned = [m for m in result.messages if m.startswith("info\tScanned image image=")]
    assert len(scanned) == 2 and any("good/app:1" in m for m in scanned)
