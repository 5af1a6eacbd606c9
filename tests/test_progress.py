"""Live progress: one line redrawn at the bottom of a terminal, a plain log line now and then elsewhere,
nothing with --quiet; the report, the summary and the log lines the same either way."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import termios

from tcs_registry import progress
from tcs_registry.testing.helpers import console_script, csv_rows, expected_rows, report_path

LIVE = re.compile(
    r"(\d+) repositories, ([\d,]+)/([\d,]+)(\+?) images \((\d+) failed\) \| [\d,]+ req/s, no rate limit, "
    r"(\d+) in flight \(limit (\d+)/64\) \| (\d+:\d\d)(?:, ~(\d+:\d\d) left)?"
)


def run_on_a_terminal(command: list[str], size: tuple[int, int] = (50, 200)) -> tuple[int, str, str]:
    """The command with standard error on a pseudo-terminal of ``size`` (rows, columns) as in a person's
    shell, and standard output on a pipe; returns (exit code, what the terminal showed, standard output)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other end is closed: the process has exited
            break
        if not chunk:
            break
        shown += chunk
    out = process.stdout.read().decode() if process.stdout else ""
    code = process.wait(60)
    os.close(leader)
    return code, shown.decode(errors="replace"), out


def test_a_terminal_shows_one_live_line_under_the_log_lines(big_registry, big, tmp_path):
    base = [console_script(), "registry", big_registry.url, "--mode=dry-run"]
    code, shown, out = run_on_a_terminal([*base, f"--state-dir={tmp_path}/a", f"--output-dir={tmp_path}/a"])
    assert code == 0, shown[-2000:]
    redraws = [m for m in LIVE.finditer(shown)]
    assert len(redraws) >= 3, shown[-3000:]
    first, last = redraws[0], redraws[-1]
    assert int(last.group(1)) == 150  # every repository listed by the end
    assert int(first.group(2).replace(",", "")) <= int(last.group(2).replace(",", ""))  # done only grows
    assert any(m.group(9) for m in redraws)  # once the listing is over: the time left
    assert all(m.group(4) == "+" for m in redraws if not m.group(9))  # before: a lower bound, no estimate
    # requests in flight, then the limit: at most 64 in flight (a limit just cut can be below the requests
    # already sent), and the limit moves (found as the run goes)
    assert all(int(m.group(6)) <= 64 and 1 <= int(m.group(7)) <= 64 for m in redraws)
    # the log lines are whole lines of the seed's format, each on its own line above the live one
    lines = [line.split("\r")[-1] for line in shown.replace("\r\n", "\n").split("\n")]
    fetched = [line for line in lines if "\tinfo\tFetched image discovery details image=" in line]
    assert len(fetched) == 1000
    assert all(re.fullmatch(r"\S+\tinfo\tFetched image discovery details image=\S+:\S+", line) for line in fetched)
    # the same report and summary as without a terminal
    plain = subprocess.run(
        [*base, f"--state-dir={tmp_path}/b", f"--output-dir={tmp_path}/b"], capture_output=True, text=True
    )
    assert plain.returncode == 0
    assert "repositories, " not in plain.stderr  # no live line where there is no terminal
    host = f"127.0.0.1:{big_registry.port}"
    assert csv_rows(report_path(tmp_path / "a", host)) == csv_rows(report_path(tmp_path / "b", host))
    assert csv_rows(report_path(tmp_path / "a", host)) == expected_rows(host, big.expected)
    assert out == plain.stdout.replace(f"{tmp_path}/b", f"{tmp_path}/a")


def test_a_terminal_of_no_size_still_shows_the_line(big_registry, tmp_path):
    """`script`, `docker run -t` and some CI runners give a terminal that says it is 0 x 0."""
    command = [console_script(), "registry", big_registry.url, "--mode=dry-run", "--allowList=bulk/*"]
    code, shown, _ = run_on_a_terminal([*command, f"--state-dir={tmp_path}", f"--output-dir={tmp_path}"], (0, 0))
    assert code == 0
    assert LIVE.search(shown), shown[-2000:]


def test_json_log_lines_on_a_terminal_are_all_json(anonymous_registry, tmp_path):
    """`docker run -t`, a pod with a tty: a collector reads the terminal, so no live line among the
    JSON lines (the periodic progress line comes instead)."""
    command = [console_script(), "registry", anonymous_registry.url, "--mode=dry-run", "--log-format=json"]
    code, shown, _ = run_on_a_terminal([*command, f"--state-dir={tmp_path}", f"--output-dir={tmp_path}"])
    assert code == 0
    lines = [line for line in shown.split("\r\n") if line]
    assert lines and all(json.loads(line)["level"] for line in lines), shown[-2000:]


def test_quiet_shows_no_live_line(anonymous_registry, tmp_path):
    command = [console_script(), "registry", anonymous_registry.url, "--mode=dry-run", "-q"]
    code, shown, _ = run_on_a_terminal([*command, f"--state-dir={tmp_path}", f"--output-dir={tmp_path}"])
    assert code == 0
    assert shown == ""


def test_without_a_terminal_a_progress_line_comes_now_and_then(tcs, big_registry, big, out_dir, monkeypatch):
    monkeypatch.setattr(progress, "PERIOD", 0.3)
    result = tcs("registry", big_registry.url, "--mode=dry-run")
    assert result.code == 0, result.err
    lines = [m for m in result.messages if m.startswith("info\tProgress ")]
    assert len(lines) >= 2
    pattern = (
        r"info\tProgress repositories=\d+ found=\d+ done=\d+ scanned=0 failed=0 listed=(yes|no) "
        r"requests_per_second=\d+ rate_limit=none in_flight=\d+ concurrency=\d+ elapsed=\d+:\d\d "
        r"left=(\d+:\d\d|-)"
    )
    assert all(re.fullmatch(pattern, line) for line in lines), lines
    host = f"127.0.0.1:{big_registry.port}"
    assert csv_rows(report_path(out_dir, host)) == expected_rows(host, big.expected)
    quiet = tcs("registry", big_registry.url, "--mode=dry-run", "-q")
    assert not [m for m in quiet.messages if "Progress" in m]
