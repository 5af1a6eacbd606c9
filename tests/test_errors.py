"""Bad input and unusable registries: one clear error line, a documented exit code, no traceback."""

from __future__ import annotations

import struct
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tcs_registry.plugins import DISABLE_ENV, get_plugin_manager
from tcs_registry.testing.helpers import console_script, report_path
from tcs_registry.testing.registry import free_port


@pytest.fixture
def web_server(tmp_path):
    """A plain web server (not a registry): /v2/ is 404."""
    (tmp_path / "www").mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path / "www"), **kwargs)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _one_error(result, code, text):
    assert result.code == code, result.err
    assert "Traceback" not in result.err
    errors = [m for m in result.messages if m.startswith("error\t")]
    assert errors == [f"error\t{text}"], result.err


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_unreachable_host(tcs, host):
    port = free_port()
    result = tcs("registry", f"http://{host}:{port}", "--mode=dry-run")
    _one_error(result, 3, f"cannot connect to {host}:{port}: Connection refused")  # (IPv6: not a ValueError)


def test_not_a_registry(tcs, web_server):
    result = tcs("registry", web_server, "--mode=dry-run")
    _one_error(result, 3, f"{web_server}/v2/ answered 404: not a Docker Registry V2 / OCI endpoint")
    # not "Identified registry as" a registry it is not, before the error saying so
    assert result.messages[0] == "info\tRegistry type taken as: DEFAULT_V2 (its /v2/ answered 404, as no registry does)"


def test_a_namespace_pasted_into_a_plain_registrys_url_says_how_to_keep_it(tcs, anonymous_registry):
    """`http://host/team` on a registry whose API is at the root: /team/v2/ is 404 there, and the run
    said only that this was no registry. One line, before any login: the host alone and the pattern."""
    result = tcs("registry", f"{anonymous_registry.url}/team", "--mode=dry-run")
    _one_error(
        result,
        2,
        f"the registry's API is at the host's root ({anonymous_registry.url}/v2/), not under /team: for the"
        " repositories under team/, name the host alone and add --allowList='team/*'",
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://registry.example.com", "only https:// (or http:// for a plain-HTTP registry) is supported"),
        ("https://", "it has no valid host"),
        ("https://registry example.com", "it has no valid host"),
        ("https://registry.example.com:99999", "its port is not a number from 1 to 65535"),
        ("https://registry.example.com:abc", "its port is not a number from 1 to 65535"),
        ("127.0.0.1:0", "its port is not a number from 1 to 65535"),
        ("127.0.0.1:5000/../x", "its path must not have . or .. segments"),
        ("127.0.0.1:5000/%2e%2e/x", "its path must not have . or .. segments"),
        ("127.0.0.1:5000/ junk", "its path must not have spaces, control characters or a bare %"),
        ("127.0.0.1:5000/team%20a", "its path must not have spaces, control characters or a bare %"),
        ("127.0.0.1:5000/100%", "its path must not have spaces, control characters or a bare %"),
        ("https://registry.example.com/?token=s3cret", "it must not have a query or fragment"),
        ("https://[::1", "it has no valid host"),
        ("-", "it has no valid host"),  # (a stray "-" for standard input)
        ("registry..example.com", "it has no valid host"),
        ("https://-registry.example.com", "it has no valid host"),
    ],
)
def test_malformed_url(tcs, url, problem):
    shown = url.replace("s3cret", "***")  # (a query's value may be a token)
    _one_error(tcs("registry", url, "--mode=dry-run"), 2, f"malformed registry URL {shown!r}: {problem}")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://bob:hunter22@registry.example.com", "https://***@registry.example.com"),
        ("https://bob:hunter/22@registry.example.com", "https://***@registry.example.com"),
        ("https://bob:hunter#22@registry.example.com", "https://***@registry.example.com"),
        ("bob:hunter22@registry.example.com/v2/", "***@registry.example.com/v2/"),
    ],
)
def test_credentials_in_url_are_refused_without_echoing_them(tcs, url, shown):
    result = tcs("registry", url, "--mode=dry-run")
    _one_error(
        result, 2, f"malformed registry URL {shown!r}: credentials do not belong in the URL; use --username/--password"
    )
    assert "hunter" not in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode=fast"], "unknown --mode 'fast': use scan or dry-run"),
        (["--max-images=-1"], "--max-images must be 0 or more, not -1"),
        (["--max-images=lots"], "Invalid value for '--max-images': 'lots' is not a valid integer."),
        (["--concurrency=0"], "--concurrency must be between 1 and 256, not 0"),
        (["--username=bob"], "--username needs a password: --password, --password-stdin or TCS_REGISTRY_PASSWORD"),
        (["--insecure", "--ca-cert=/etc/hostname"], "--insecure and --ca-cert contradict each other: choose one"),
        (["--ca-cert=/nonexistent/ca.pem"], "--ca-cert '/nonexistent/ca.pem' does not exist or is not a file"),
        (["--allowList="], "empty image pattern: use repository[:tag], e.g. 'team/*:*'"),
        (
            ["--denyList=Team/App"],
            "image pattern 'Team/App' can never match: a repository holds only a-z, 0-9, '.', '_', '-', '/' (and '*')",
        ),
        (
            ["--denyList=Registry.Example.com/team/app"],
            "image pattern 'Registry.Example.com/team/app' can never match: a repository holds only a-z, 0-9, "
            "'.', '_', '-', '/' (and '*'); leave the registry host out",
        ),
        (["--allowList=team/api:"], "image pattern 'team/api:' has an empty tag: use 'team/api:*' for every tag"),
        (
            ["--registry-type=quay"],
            "unknown --registry-type 'quay': installed types are DEFAULT_V2; is its plugin "
            "installed? (pip install tcs-registry-quay)",
        ),
        (["--config=/nonexistent/config"], "config file '/nonexistent/config' does not exist or is not a file"),
        (["--bogus"], "No such option '--bogus'. Did you mean '--verbose'?"),
        (["--format=spdx"], "unknown --format 'spdx': use table, json, sarif, cyclonedx (several with commas)"),
        (["--platform=arm64"], "--platform 'arm64' is not os/architecture[/variant], e.g. linux/arm64"),
    ],
)
def test_bad_flags(tcs, anonymous_registry, args, message):
    _one_error(tcs("registry", anonymous_registry.url, *args), 2, message)


def test_password_and_password_stdin_conflict(tcs, anonymous_registry):
    result = tcs("registry", anonymous_registry.url, "--password=x", "--password-stdin", stdin="y\n")
    _one_error(result, 2, "--password and --password-stdin contradict each other: choose one")


def test_scan_mode_without_scanner_exits_2_after_discovery(tcs, anonymous_registry):
    """With the built-in scanner disabled (TCS_REGISTRY_DISABLE_PLUGINS) and no other scanner."""
    pm = get_plugin_manager(load_entrypoints=False, env={DISABLE_ENV: "tcs_registry.default_plugins.scanner"})
    result = tcs("registry", anonymous_registry.url, pm=pm)
    assert result.code == 2
    assert len([m for m in result.messages if "Fetched image discovery details" in m]) == 10
    assert "Vulnerability details     : none: no scanner plugin is installed\n" in result.out
    assert result.messages[-1] == (
        "error\tNo scanner is installed, so no image was scanned: install a scanner plugin, "
        "or use --mode=dry-run for discovery only"
    )


def test_console_script_error_has_no_traceback(tmp_path):
    """The installed command itself, as a user runs it."""
    import subprocess

    port = free_port()
    run = subprocess.run(
        [console_script(), "registry", f"http://127.0.0.1:{port}", "--mode=dry-run", f"--state-dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 3
    assert run.stderr.count("\n") == 2  # no answer, so not "Identified registry as"; then the error
    assert run.stderr.splitlines()[0].endswith(
        "\tinfo\tRegistry type taken as: DEFAULT_V2 (no answer to the probe of its type)"
    )
    assert run.stderr.splitlines()[-1].endswith(f"\terror\tcannot connect to 127.0.0.1:{port}: Connection refused")


def test_standard_output_closed_by_its_reader_is_one_line_and_its_own_code(anonymous_registry, tmp_path):
    """`tcs-registry ... | head -1`: the summary's reader is gone. One error line and 141 (as a shell
    reports a process ended by SIGPIPE), not a silent 1, the code of findings at --fail-on."""
    import subprocess

    command = [console_script(), "registry", anonymous_registry.url, "--mode=dry-run"]
    process = subprocess.Popen(
        [*command, f"--state-dir={tmp_path}", f"--output-dir={tmp_path}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()  # the reader ends before the summary comes
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 141, stderr
    assert stderr.splitlines()[-1].endswith(
        "\terror\tStandard output was closed before all was written to it (its reader ended)"
    )
    assert "Traceback" not in stderr and "Exception ignored" not in stderr


def test_a_host_that_never_answers_is_probed_once_and_said_so(tcs):
    """A port that takes connections and answers nothing: the probe of /v2/ waits for nothing once, the
    vendors' probes are not sent to wait as long each, and the line says why the type is a guess."""
    import socket

    paths: list[str] = []
    listener = socket.create_server(("127.0.0.1", 0))
    held = []

    def hold() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            held.append(connection)
            request = connection.recv(4096).decode("latin-1")
            paths.append(request.split(" ")[1] if " " in request else request)

    threading.Thread(target=hold, daemon=True).start()
    port = listener.getsockname()[1]
    try:
        result = tcs("registry", f"127.0.0.1:{port}", "--mode=dry-run", "--timeout=1", pm=get_plugin_manager())
    finally:
        listener.close()
        for connection in held:
            connection.close()
    assert result.code == 3, result.err
    assert f"warn\t127.0.0.1:{port} did not answer the probe of its type within 1 s: taken as DEFAULT_V2 " \
        "(--registry-type skips the probe)" in result.messages  # fmt: skip
    assert result.messages[-1] == f"error\t127.0.0.1:{port} took longer than 1 s to answer, every time it was asked"
    assert set(paths) == {"/v2/"}  # the probe's, then the client's, asked three times


def test_a_bad_log_format_from_the_environment_is_named_as_the_variable(tcs, anonymous_registry, monkeypatch):
    result = tcs("registry", anonymous_registry.url, "--log-format=xml")
    _one_error(result, 2, "Invalid value for '--log-format': 'xml' is not one of 'tab', 'json'.")
    monkeypatch.setenv("TCS_LOG_FORMAT", "xml")
    _one_error(
        tcs("registry", anonymous_registry.url),
        2,
        "Invalid value for TCS_LOG_FORMAT: 'xml' is not one of 'tab', 'json'.",
    )


def test_a_host_that_hangs_up_or_speaks_no_http_is_said_so(tcs, monkeypatch):
    """Connected to, then no HTTP answer: the connection closed (reset) before one, or another protocol's
    greeting (an SSH port). Not 'cannot connect', which it did."""
    import socket

    from tcs_registry.pacing import PacedRetry

    monkeypatch.setattr(PacedRetry, "get_backoff_time", lambda self: 0.0)  # (its retries without their 15 s)

    def listening(behave) -> int:
        server = socket.create_server(("127.0.0.1", 0))

        def serve() -> None:
            while True:
                connection, _ = server.accept()
                behave(connection)

        threading.Thread(target=serve, daemon=True).start()
        return server.getsockname()[1]

    def reset(connection) -> None:
        connection.recv(100)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
        connection.close()

    def ssh(connection) -> None:
        connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        connection.close()

    def close(connection) -> None:  # (a port-forward or a load balancer with no backend: FIN, no answer)
        connection.recv(100)
        connection.close()

    for behave in (reset, close):
        port = listening(behave)
        result = tcs("registry", f"http://127.0.0.1:{port}", "--mode=dry-run")
        _one_error(result, 3, f"127.0.0.1:{port} closed the connection without an answer, every time it was asked")
    port = listening(ssh)
    result = tcs("registry", f"http://127.0.0.1:{port}", "--mode=dry-run")
    _one_error(result, 3, f"127.0.0.1:{port} does not answer in HTTP (it is not a registry, or not at this port)")


@pytest.mark.parametrize("flag", ["--platform", "--format", "--severity", "--skip-checks"])
def test_a_list_flag_given_empty_is_refused_not_taken_as_all(tcs, flag, tmp_path):
    """``--platform=$PLATFORM`` with the variable unset would scan every platform."""
    result = tcs("registry", f"http://127.0.0.1:{free_port()}", f"{flag}=")
    _one_error(result, 2, f"{flag} is empty: leave it out, or name what it is for")
    assert result.messages == [f"error\t{flag} is empty: leave it out, or name what it is for"]
    config = tmp_path / "config.toml"  # a config file's empty value is its default, as it always was
    config.write_text(f'{flag.removeprefix("--").replace("-", "_")} = ""\n')
    port = free_port()
    _one_error(
        tcs("registry", f"http://127.0.0.1:{port}", f"--config={config}"),
        3,
        f"cannot connect to 127.0.0.1:{port}: Connection refused",
    )


def test_a_bad_value_is_its_one_error_line_with_no_warning_before_it(tcs, tmp_path):
    result = tcs("registry", f"http://127.0.0.1:{free_port()}", "--mode=dry-run", "--severity=foo")
    assert result.messages == [
        "error\tunknown --severity 'foo': use CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN (with commas)"
    ]
    assert result.code == 2
    config = tmp_path / "shared.toml"
    config.write_text('password = "s3cret"\n')
    config.chmod(0o664)  # read and written by the group: refused, and no word of its being read first
    result = tcs("registry", f"http://127.0.0.1:{free_port()}", f"--config={config}")
    assert result.code == 2
    assert [m.split(" (")[0] for m in result.messages if not m.startswith("info")] == [
        f"error\tthe config file {str(config)!r} can be written by other users"
    ]


def test_a_run_that_fails_before_its_first_row_leaves_the_last_report_as_it_was(tcs, web_server, tmp_path, out_dir):
    """A web server whose /v2/ answers 200 and whose catalog is no JSON: the run fails (3), and the last
    run's report is not replaced by an empty one (a CI step uploading it would read '0 images')."""
    (tmp_path / "www" / "v2").mkdir()
    (tmp_path / "www" / "v2" / "_catalog").write_text("<html>not a registry</html>")
    host = web_server.split("//")[1]
    last = report_path(out_dir, host)
    last.parent.mkdir(parents=True, exist_ok=True)
    last.write_text("repository,tag,build_time,skipped\nlast/run,1,,false\n")
    result = tcs("registry", web_server, "--mode=dry-run")
    assert result.code == 3, result.err
    assert result.messages[0] == (  # (its /v2/ is the folder's listing)
        "info\tRegistry type taken as: DEFAULT_V2 (its /v2/ answered a web page, as no registry does)"
    )
    assert next(m for m in result.messages if m.startswith("error")).startswith("error\trepository catalog: ")
    assert last.read_text() == "repository,tag,build_time,skipped\nlast/run,1,,false\n"


def test_a_url_ending_with_a_digest_says_how_to_keep_one_image(tcs):
    """`docker pull`'s reference pasted whole: not taken for credentials (the '@'), not echoed."""
    result = tcs("registry", f"127.0.0.1:5000/team/app@sha256:{'0' * 64}", "--mode=dry-run")
    _one_error(
        result,
        2,
        "malformed registry URL: its path ends with a digest (@sha256:...): a URL names a registry, a repository"
        " or an image (every tag of it); keep one tag with --allowList='<repository>:<tag>'",
    )


def test_a_fifo_where_the_report_goes_is_refused_not_waited_on(tcs, fresh_registry, out_dir):
    """Opening a FIFO to write waits for a reader: forever. Refused at once, as any file that is not one."""
    import os

    out_dir.mkdir(parents=True, exist_ok=True)
    fifo = report_path(out_dir, fresh_registry.host)
    os.mkfifo(fifo)
    result = tcs("registry", fresh_registry.url, "--mode=dry-run")
    _one_error(result, 2, f"cannot write the report {str(fifo)!r}: No such device or address; use --output-dir")


def test_hiding_a_query_secret_takes_no_longer_than_reading_the_text():
    """A registry's error message of 60,000 characters that repeats a secret's name: starred out at once
    (a pattern that backtracked took seconds, its time growing with the square of the length)."""
    import time

    from tcs_registry.redaction import hide

    began = time.monotonic()
    assert hide("&" + "key" * 20_000) == "&" + "key" * 20_000
    assert hide("?a=1&" * 10_000 + "sig=s3") == "?a=1&" * 10_000 + "sig=***"
    assert time.monotonic() - began < 1.0
