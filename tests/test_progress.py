"""Live progress: one line redrawn at the bottom of a terminal, a plain log line now and then elsewhere,
nothing with --quiet; the report, the summary and the log lines the same either way."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import time
from datetime import datetime

import pytest

from tcs_registry import progress
from tcs_registry.results import results_dir
from tcs_registry.testing.helpers import console_script, csv_rows, expected_rows, report_path, run_on_a_terminal
from tcs_registry.testing.proxy import HeldBack, Proxy

pytestmark = pytest.mark.timing  # asserts on rates and times: run apart from the parallel run

LIVE = re.compile(
    r"(\d+) repositories, ([\d,]+)/([\d,]+)(\+?) images \((\d+) failed\) \| [\d,]+ req/s, no rate limit, "
    r"(\d+) in flight \(limit (\d+)/64\) \| (\d+:\d\d)(?:, (?:~(\d+:\d\d)|([\d,]+) images?) left)?"
)


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
    early = ("00:00", "00:01")  # progress.ESTIMATE_AFTER: the first images say little of the pace
    assert not any(m.group(9) for m in redraws if m.group(8) in early)
    # no estimate after that only while the listing goes on (a lower bound: "+")
    assert all(m.group(4) == "+" for m in redraws if not m.group(9) and not m.group(10) and m.group(8) not in early)
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


@pytest.mark.parametrize("size", [(0, 0), (0, 120)])
def test_a_terminal_of_no_size_still_shows_the_line(anonymous_registry, tmp_path, size):
    """`script`, `docker run -t` and some CI runners give a terminal that says it is 0 x 0, or 0 lines of
    120 columns (`stty cols 120` alone). (A small registry: a run quicker than a redraw ends with one.)"""
    command = [console_script(), "registry", anonymous_registry.url, "--mode=dry-run"]
    code, shown, _ = run_on_a_terminal([*command, f"--state-dir={tmp_path}", f"--output-dir={tmp_path}"], size)
    assert code == 0
    assert LIVE.search(shown), shown[-2000:]


def test_an_80_column_terminal_shows_a_shorter_line_that_fits(big_registry, tmp_path):
    """The whole line is about 110 columns: on 80 the requests in flight and the times still show, in a
    line that fits (tqdm would cut the end off: the time left)."""
    command = [console_script(), "registry", big_registry.url, "--mode=dry-run"]
    code, shown, _ = run_on_a_terminal([*command, f"--state-dir={tmp_path}", f"--output-dir={tmp_path}"], (24, 80))
    assert code == 0, shown[-2000:]
    short = re.compile(
        r"[\d,]+/[\d,]+\+? images \(\d+ failed\) \| [\d,.]+ req/s(?:, \d+/\d+ in flight)? \| "
        r"\d+:\d\d(?:, (?:~\d+:\d\d|[\d,]+ images?) left)?"
    )
    redraws = short.findall(shown)
    assert len(redraws) >= 3, shown[-3000:]
    assert all(len(line) < 80 for line in redraws)
    assert any(" in flight | " in line for line in redraws)
    assert any(line.endswith(" left") for line in redraws)
    assert "repositories, " not in shown  # the whole line never drawn


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
        r"requests_per_second=\d+(\.\d+)? rate_limit=none in_flight=\d+ concurrency=\d+ elapsed=\d+:\d\d "
        r"left=(\d+:\d\d|-)"
    )
    assert all(re.fullmatch(pattern, line) for line in lines), lines
    host = f"127.0.0.1:{big_registry.port}"
    assert csv_rows(report_path(out_dir, host)) == expected_rows(host, big.expected)
    quiet = tcs("registry", big_registry.url, "--mode=dry-run", "-q")
    assert not [m for m in quiet.messages if "Progress" in m]


@pytest.mark.parametrize(("mode", "others", "least"), [("dry-run", 700, 600), ("scan", 200, 150)])
def test_the_count_goes_on_while_one_image_holds_up_the_rows_after_it(
    tcs, big_registry, big, out_dir, monkeypatch, mode, others, least
):
    """One of the first images waits for its answer (as one waiting out its retries) while the run
    describes (and scans) the images after it, up to its look-ahead (16 images a slot in a dry run, 4 in a
    scan): the counts say so, though their report rows and results wait for that image's."""
    monkeypatch.setattr(progress, "PERIOD", 0.2)
    held = HeldBack(others=others, longest=60.0, linger=1.0)  # held until `others` were asked for, and 1 s more
    with Proxy(big_registry.url, held) as proxy:
        result = tcs("registry", proxy.url, f"--mode={mode}", *(["--format=json"] if mode == "scan" else []))
    assert result.code == 0, result.err
    assert held.went_on and held.released is not None
    lines = [line.split("\t") for line in result.err.splitlines() if "\tinfo\tProgress " in line]
    counts = [
        (
            datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp(),
            *map(int, re.findall(r" (?:found|done|scanned)=(\d+)", text)),
        )
        for stamp, _, text in lines
    ]
    assert all(scanned <= done <= found for _, found, done, scanned in counts), counts
    held_back = [(done, scanned) for when, _, done, scanned in counts if when < held.released]
    assert held_back and max(held_back)[0] >= least, counts  # (report rows written by then: none)
    assert max(held_back)[1] == (max(held_back)[0] if mode == "scan" else 0), counts
    if mode == "dry-run":
        assert csv_rows(report_path(out_dir, proxy.host)) == expected_rows(proxy.host, big.expected)
    else:  # every image's results written
        assert len(list(results_dir(out_dir, proxy.host).rglob("*.json"))) == len(big.expected)


def test_rates_under_ten_keep_their_decimals():
    """A limit of half a request a second shows as 0.50, not 0; thousands are grouped on the terminal only."""
    assert [progress.per_second(x) for x in (0.0, 0.5, 0.04, 5.26, 42.4, 1234.5)] == [
        "0", "0.50", "0.04", "5.3", "42", "1,234",
    ]  # fmt: skip
    assert progress.per_second(1234.5, grouped=False) == "1234"


def test_the_time_left_shows_long_before_the_listing_ends(tcs, big_registry, big, out_dir, monkeypatch):
    """The repository catalog is read ahead of the tags: once it has ended, how many repositories there
    are gives the time left while most tags are still to be listed (a big registry's listing ends only
    near the end of the run, behind the images being described). 150 repositories, 8 listed ahead (two
    a slot of --concurrency=4), every answer 10 ms late."""
    monkeypatch.setattr(progress, "PERIOD", 0.25)

    def late(target, session, upstream):
        time.sleep(0.01)

    with Proxy(big_registry.url, late) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run", "--concurrency=4")
    assert result.code == 0, result.err
    lines = [line.split("\t") for line in result.err.splitlines() if "\tinfo\tProgress " in line]
    ended = datetime.strptime(result.err.splitlines()[-1].split("\t")[0], STAMP).timestamp()
    early = [  # (seconds the line said were left, seconds that were) while the listing was under way
        (_seconds(re.search(r" left=(\d+:\d\d)", text).group(1)), ended - datetime.strptime(stamp, STAMP).timestamp())
        for stamp, _, text in lines
        if " listed=no " in text and " left=-" not in text  # (none in the first 2 s: ESTIMATE_AFTER)
    ]
    assert len(early) >= 10, lines  # most of the run
    assert all(0.5 * really - 1 <= said <= 2 * really + 1 for said, really in early), early
    assert csv_rows(report_path(out_dir, proxy.host)) == expected_rows(proxy.host, big.expected)


STAMP = "%Y-%m-%dT%H:%M:%S.%f%z"


def _seconds(interval: str) -> int:
    minutes, seconds = interval.split(":")
    return 60 * int(minutes) + int(seconds)


def test_a_scan_on_80_columns_keeps_the_requests_in_flight():
    """A scan's line says `scanned` too: on 80 columns the in-flight count goes before the times do."""
    from tcs_registry.pacing import Traffic
    from tcs_registry.progress import Counts, Progress

    counts = Counts(repositories=150, found=946, done=58, scanned=58, listed=True, work=946, worked=58)
    shown = _started_ago(Progress(lambda: counts, Traffic(None, 64), scanning=True), 5)
    line = shown.line(80)
    assert re.fullmatch(r"58/946 images, 0 failed \| 0 req/s, 0/4 in flight \| 00:05, ~01:\d\d left", line), line


def test_the_time_left_counts_only_the_images_that_cost_something(caplog):
    """A scan with --allowList: of 905 tags, 50 are admitted; 48 are scanned in 5 s, and the 191 left
    out so far were done at once. The time left is that of the 2 still to scan, not of 666 tags at the
    pace of the 239 done (it said ~00:16 and the run ended 0.2 s later). Under a second, how many are left
    (they may be waiting out retries), not ~00:00."""
    from tcs_registry.pacing import Traffic
    from tcs_registry.progress import Counts, Progress

    counts = Counts(repositories=181, found=905, done=239, scanned=48, listed=True, work=50, worked=48)
    shown = _started_ago(Progress(lambda: counts, Traffic(None, 64), scanning=True), 5)
    assert shown.line(200).endswith(" | 00:05, 2 images left")
    counts.worked = 49
    assert shown.line(200).endswith(" | 00:05, 1 image left")
    with caplog.at_level(logging.INFO, logger="tcs_registry"):
        shown._log()
    assert " left=00:00" in caplog.records[-1].getMessage()  # (the log line's field stays a time)
    counts.done, counts.worked = 240, 50
    assert shown.line(200).endswith(" | 00:05, ~00:00 left")  # all done: the line the run ends on
    counts.worked = 51  # (more done than counted as work: an image found to be an artifact) never "-1"
    assert shown.line(200).endswith(" | 00:05, ~00:00 left")


def test_the_time_left_goes_by_the_last_seconds_when_they_are_faster():
    """The first seconds, at a few requests in flight, are the slowest: 20 images in the first 20 s, 200
    in the 5 s after. 780 left at 40 a second is about 20 s, not 87 s at the pace since the start."""
    from tcs_registry.pacing import Traffic
    from tcs_registry.progress import Counts, Progress

    counts = Counts(repositories=100, found=1000, done=20, listed=True, work=1000, worked=20)
    shown = _started_ago(Progress(lambda: counts, Traffic(None, 64), scanning=False), 25)
    shown.line(200)  # (the count now, taken as 5 s before the next)
    shown._worked[-1] = (shown._worked[-1][0] - 5, 20)
    counts.done = counts.worked = 220
    assert re.search(r" \| 00:25, ~00:(19|20) left$", shown.line(200)), shown.line(200)


def test_the_request_rate_counts_from_the_start_and_never_shows_more_than_max_rate():
    """--max-rate=2: the 3 requests of the log-in came before the live line began, and 2 more went in its
    first half second (the first goes at once). It shows 2 req/s, the ceiling, not 10 (5 / 0.5) or 4."""
    from tcs_registry.pacing import Traffic
    from tcs_registry.progress import Counts, Progress

    def half_a_second_in(traffic: Traffic) -> str:
        traffic.pace.sent = 3
        shown = Progress(lambda: Counts(repositories=1, found=1), traffic, scanning=False)
        shown.began -= 0.5
        shown._sent[0] = (shown.began, shown._sent[0][1])
        traffic.pace.sent = 5
        return shown.line(200)

    assert " | 2.0 req/s, limit 2.0/s, " in half_a_second_in(Traffic(2.0, 64))
    assert " | 4.0 req/s, no rate limit, " in half_a_second_in(Traffic(None, 64))


def test_no_time_left_is_shown_in_the_first_two_seconds():
    """In flight still grows from 4 then: an estimate at one second said twice the time left."""
    from tcs_registry.pacing import Traffic
    from tcs_registry.progress import Counts, Progress

    counts = Counts(repositories=100, found=1000, done=100, listed=True, work=1000, worked=100)
    early = _started_ago(Progress(lambda: counts, Traffic(None, 64), scanning=False), 1.5)
    assert early.line(200).endswith(" | 00:01"), early.line(200)
    later = _started_ago(Progress(lambda: counts, Traffic(None, 64), scanning=False), 2.5)
    assert re.search(r" \| 00:02, ~00:2\d left$", later.line(200)), later.line(200)


def _started_ago(shown, seconds: float):
    """The live line of a run that began ``seconds`` ago, with nothing counted then."""
    shown.began -= seconds
    shown._sent[0] = shown._worked[0] = (shown.began, 0)
    return shown


@pytest.mark.parametrize(
    ("mode", "chosen", "costly"),
    [("scan", "--allowList=alpine", 3), ("dry-run", "--allowList=alpine", 10), ("scan", "--max-images=2", 2)],
)
def test_the_work_counted_is_what_costs_requests(tcs, anonymous_registry, standard, monkeypatch, mode, chosen, costly):
    """A scan's work is its admitted images (the others, and those past --max-images, are left out at a
    look); a dry run describes every image, admitted or not: all of them are work. At the end every
    image of the work is done (the time left reaches zero)."""
    from tcs_registry.discovery import Discovery

    runs = []
    run = Discovery.run
    monkeypatch.setattr(Discovery, "run", lambda self, *args: runs.append(self) or run(self, *args))
    result = tcs("registry", anonymous_registry.url, f"--mode={mode}", chosen)
    assert result.code == 0, result.err
    last = runs[0].counts()
    assert (last.found, last.work, last.worked) == (len(standard.expected), costly, costly)
