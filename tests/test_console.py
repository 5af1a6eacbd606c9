"""The console, for real: `tcs-registry console serve` on a loopback port over the store real scans wrote,
its API with each kind of token, and its pages in Debian's Chromium (Selenium and chromium-driver): log in,
follow the links, filter, page; registry text shown as text, never run."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcs_registry.testing.helpers import console_script, store_rows
from tcs_registry.testing.images import make_layer

HOSTILE_URL = 'https://x/<script>document.title="PWNED"</script>'
HOSTILE_ENV = "<script>alert(1)</script>_PASSWORD"  # (a name holds no "=": Docker splits NAME=value there)


class Console:
    def __init__(self, state_dir: Path, store: str | None = None) -> None:
        self.state_dir, self.registry = state_dir, ""
        self.where = [f"--state-dir={state_dir}", *([f"--store={store}"] if store else [])]
        self.process = subprocess.Popen(
            [console_script(), "console", "serve", "--port=0", *self.where],
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline, line, self.started = time.monotonic() + 30, "", []
        while time.monotonic() < deadline and "Console at" not in line:
            ready, _, _ = select.select([self.process.stderr], [], [], 1.0)
            if ready:
                line = self.process.stderr.readline() if self.process.stderr else ""
                self.started.append(line)
                if not line and self.process.poll() is not None:
                    break
        match = re.search(r"Console at (http://\S+/)", line)
        assert match, f"the console did not start: {line!r}"
        self.url = match.group(1).rstrip("/")

    def token(self, project: str, role: str) -> str:
        done = subprocess.run(
            [console_script(), "console", "token", "create", f"--project={project}", f"--role={role}", *self.where],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.splitlines()[-1]

    def api(self, path: str, token: str | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(self.url + path)  # noqa: S310 - the console's own http:// URL
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _push(pusher) -> None:
    base = make_layer({"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n"})
    for n in range(30):  # 30 images of two violations each: two pages of 50
        pusher.image(
            f"team/app{n:02}", "1", created="2026-11-01T00:00:00Z", layers=[base, make_layer({"a": bytes([n])})]
        )
    pusher.image(
        "evil/app",
        "1",
        created="2026-11-01T00:00:00Z",
        layers=[base],
        extra_config={
            "config": {"Env": [f"{HOSTILE_ENV}=hunter2"], "User": "app"},
            "history": [{"created_by": f"ADD {HOSTILE_URL} /x", "created": "2026-11-01T00:00:00Z"}],
        },
    )


@pytest.fixture
def console(tcs, fresh_registry, pusher, state_dir) -> Iterator[Console]:
    _push(pusher)
    result = tcs("registry", fresh_registry.url, "--project=web")
    assert result.code == 0, result.err
    server = Console(state_dir)
    server.registry = fresh_registry.url
    yield server
    server.close()


def test_the_api_answers_each_kind_of_token_as_it_should(console):
    read, submit, admin = (console.token("web", role) for role in ("read", "submit", "admin"))
    other = console.token("payments", "read")
    path = "/api/v1/projects/web/violations"
    assert console.api(path)[0] == 401
    assert console.api(path, "tcs_not-a-token")[0] == 401
    status, page = console.api(path + "?limit=10&severity=high", read)
    assert status == 200
    assert page["total"] == 30 and len(page["items"]) == 10  # no USER in the 30 team images
    assert page["items"][0] == {
        "image": page["items"][0]["image"],
        "platform": "",
        "check": "TCS-CFG-001",
        "severity": "HIGH",
        "title": "Image runs as root",
        "detail": "no USER is set",
        "run": 1,
    }
    assert page["items"][0]["image"].endswith("/team/app00:1")
    assert page["next"].startswith(path + "?") and "offset=10" in page["next"]  # (relative to the console)
    following = console.api(page["next"], read)[1]
    assert following["items"][0]["image"].endswith("/team/app10:1")
    assert console.api(path, admin)[0] == 200
    assert console.api(path, submit) == (403, {"detail": "a submit token cannot read findings"})
    assert console.api(path, other) == (404, {"detail": "Not Found"})  # not "forbidden": web is not revealed
    assert console.api("/api/v1/projects/nowhere/violations", read) == (404, {"detail": "Not Found"})
    # a filter that names nothing there is refused, not dropped (a typo must not widen the list)
    assert console.api(path + "?severity=crit", read) == (
        422,
        {"detail": "severity 'crit' is none of critical, high, medium, low, unknown (several with commas)"},
    )
    assert console.api("/api/v1/projects/web/vulnerabilities?fixable=maybe", read) == (
        422,
        {"detail": "fixable is true or false"},
    )
    assert console.api(path + "?scan=abc", read) == (422, {"detail": "scan is a run's number"})
    assert console.api(path + "?scan=999", read) == (404, {"detail": "No run 999 in this project"})
    for limit in (0, -1):  # (not a page of one: what the client asked for is not that)
        assert console.api(f"{path}?limit={limit}", read) == (422, {"detail": "limit is a number from 1 to 500"})
    evil = console.api("/api/v1/projects/web/violations?repository=evil/", read)[1]["items"]
    assert sorted(i["detail"] for i in evil) == [
        f"ENV {HOSTILE_ENV} (value withheld)",
        f"history step 1: ADD {HOSTILE_URL}",
        "the config has no Healthcheck",
    ]
    token_id = subprocess.run(
        [console_script(), "console", "token", "list", f"--state-dir={console.state_dir}", "--project=web"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()[2].split()[0]  # fmt: skip
    subprocess.run(
        [console_script(), "console", "token", "revoke", token_id, f"--state-dir={console.state_dir}"], check=True
    )
    assert console.api(path, read)[0] == 401  # revoked: opens nothing
    assert console.api("/api/docs")[1]["info"]["title"] == "tcs-registry console"


@pytest.fixture
def browser(tmp_path) -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail("Debian's chromium and chromium-driver are needed: scripts/setup.sh installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    session = webdriver.Chrome(options=options, service=Service(driver))
    session.implicitly_wait(10)  # a page still loading on a busy machine is waited for, not failed
    yield session
    session.quit()


def follow(browser, target) -> None:
    """Click a link or a button (an element, or one found by (By, value)) and wait for the page it leads to."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")

    def left(_: object) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:  # Chromium's word for a node of a document gone, at times
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    (browser.find_element(*target) if isinstance(target, tuple) else target).click()
    WebDriverWait(browser, 30).until(left)
    WebDriverWait(browser, 30).until(lambda b: b.execute_script("return document.readyState") == "complete")


def screenshot(browser, name: str, tmp_path: Path) -> Path:
    """A screenshot of the page, in CONSOLE_SCREENSHOTS (to look at) or the test's directory."""
    where = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def test_a_person_logs_in_follows_the_links_filters_and_pages(console, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(console.url + "/projects/web")
    assert browser.current_url == console.url + "/login?next=%2Fprojects%2Fweb"  # no session: the login page
    browser.find_element(By.NAME, "token").send_keys("tcs_wrong")
    follow(browser, (By.CSS_SELECTOR, "form[action='/login'] button"))
    assert browser.find_element(By.CSS_SELECTOR, ".error").text == "This token is not valid (or was revoked)."
    screenshot(browser, "login-refused", tmp_path)
    browser.find_element(By.NAME, "token").send_keys(console.token("web", "read"))
    follow(browser, (By.CSS_SELECTOR, "form[action='/login'] button"))
    assert browser.current_url == console.url + "/projects/web"
    cookie = browser.get_cookie("tcs_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert len(rows) == 1 and "run 1" in rows[0].text
    cells = rows[0].find_elements(By.TAG_NAME, "td")
    # the scan had no vulnerability database: not "none" (nothing found), but nothing looked for
    assert [cells[3].text, cells[4].text] == ["not matched", "1 critical 30 high 1 medium 31 low"]
    assert cells[5].text == "not matched"
    screenshot(browser, "project", tmp_path)

    follow(browser, rows[0].find_elements(By.TAG_NAME, "a")[1])  # the violations of that scan
    assert browser.find_element(By.TAG_NAME, "h1").text == "Violations"
    assert browser.find_element(By.CSS_SELECTOR, ".pager span").text == "Page 1 of 2 · 63 in all"
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.findings tbody tr")) == 50
    screenshot(browser, "violations", tmp_path)
    follow(browser, (By.CSS_SELECTOR, "a[rel=next]"))
    assert browser.find_element(By.CSS_SELECTOR, ".pager span").text == "Page 2 of 2 · 63 in all"
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.findings tbody tr")) == 13

    Select(browser.find_element(By.NAME, "severity")).select_by_value("CRITICAL")
    follow(browser, (By.CSS_SELECTOR, "form.filters button"))
    details = "table.findings tbody tr td.detail"
    assert [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, details)] == [
        f"ENV {HOSTILE_ENV} (value withheld)"
    ]
    follow(browser, (By.LINK_TEXT, "Reset"))
    browser.find_element(By.NAME, "repository").send_keys("evil/")
    follow(browser, (By.CSS_SELECTOR, "form.filters button"))
    assert [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, details)] == [
        f"ENV {HOSTILE_ENV} (value withheld)",  # critical first
        f"history step 1: ADD {HOSTILE_URL}",
        "the config has no Healthcheck",
    ]
    assert browser.title == "Violations · web · tcs-registry console"  # the page's, not PWNED: nothing ran
    platforms = browser.find_elements(By.CSS_SELECTOR, "table.findings tbody tr td:last-child")
    assert [cell.text for cell in platforms] == ["(single platform)"] * 3  # said, not an empty cell
    follow(browser, (By.CSS_SELECTOR, "td.image a"))  # the image the finding is in
    assert browser.find_element(By.TAG_NAME, "h1").text.endswith("/evil/app:1")
    assert [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "td.detail")][:3] == [
        f"ENV {HOSTILE_ENV} (value withheld)",
        f"history step 1: ADD {HOSTILE_URL}",
        "the config has no Healthcheck",
    ]
    assert browser.title.endswith("/evil/app:1 · tcs-registry console")
    screenshot(browser, "image-hostile", tmp_path)
    follow(browser, (By.LINK_TEXT, "Violations"))
    assert "<script>" not in browser.execute_script("return document.body.innerHTML").replace("&lt;script&gt;", "")
    screenshot(browser, "violations-hostile", tmp_path)

    follow(browser, (By.LINK_TEXT, "Vulnerabilities"))
    assert browser.find_element(By.CSS_SELECTOR, "p.empty").text == "No vulnerability matches."
    copied = browser.get_cookie("tcs_session")["value"]
    follow(browser, (By.CSS_SELECTOR, "form.logout button"))
    assert browser.current_url == console.url + "/login"
    browser.get(console.url + "/projects/web/violations")
    assert browser.current_url.startswith(console.url + "/login?next=")  # logged out for good
    request = urllib.request.Request(  # noqa: S310 - the console's own http:// URL
        console.url + "/projects/web/violations", headers={"Cookie": f"tcs_session={copied}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert response.url.startswith(console.url + "/login")  # a copy of the cookie is logged out too


def test_the_summary_of_a_scan_links_to_a_console_serving_its_store(
    tcs, fresh_registry, pusher, state_dir, out_dir, browser, monkeypatch
):
    from selenium.webdriver.common.by import By

    _push(pusher)
    server = Console(state_dir)  # running before the scan, over the same store
    try:
        result = tcs("registry", fresh_registry.url, "--project=web")
        assert result.code == 0, result.err
        lines = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in result.out.splitlines())}
        violations = f"{server.url}/projects/web/violations?scan=1"
        assert lines["Violation details"].endswith(f" · {violations}")
        assert lines["Vulnerability details"].startswith("not matched")  # no database: no page to link to
        monkeypatch.chdir(state_dir.parent)  # the same store named relatively: the same console
        relative = tcs("registry", fresh_registry.url, "--project=web", f"--state-dir={state_dir.name}",
                       f"--output-dir={out_dir}", isolate=False)  # fmt: skip
        assert f" · {server.url}/projects/web/violations?scan=2" in relative.out, relative.out
        browser.get(violations)  # the link a person follows: log in, then that very page
        assert browser.current_url.startswith(server.url + "/login?next=")
        browser.find_element(By.NAME, "token").send_keys(server.token("web", "read"))
        follow(browser, (By.CSS_SELECTOR, "form[action='/login'] button"))
        assert browser.current_url == violations
        assert browser.find_element(By.CSS_SELECTOR, ".pager span").text == "Page 1 of 2 · 63 in all"
        # a marker others could have written (rewritten to send the links elsewhere) is not followed
        marker = state_dir / "console.json"
        marker.write_text(marker.read_text().replace(server.url, "http://phish.example"))
        marker.chmod(0o666)
        planted = tcs("registry", fresh_registry.url, "--project=web")
        assert "phish" not in planted.out and " · http" not in planted.out
        marker.chmod(0o600)
        assert "http://phish.example/projects/web" in tcs("registry", fresh_registry.url, "--project=web").out
    finally:
        server.close()
    assert not (state_dir / "console.json").exists()  # a console gone is linked to no more
    again = tcs("registry", fresh_registry.url, "--project=web")
    assert " · http" not in again.out


def test_a_second_console_stopped_leaves_the_first_linked_to(tcs, fresh_registry, pusher, state_dir):
    """Two consoles over one store: scans link to the latest; once it stops, to the first again (it used
    to take the marker with it); once that stops too, to none."""
    _push(pusher)
    first = Console(state_dir)
    try:
        second = Console(state_dir)
        try:
            assert f" · {second.url}/projects/web/" in tcs("registry", fresh_registry.url, "--project=web").out
            third = Console(state_dir)
            second.close()  # (not the latest: the links stay the third's)
            try:
                assert f" · {third.url}/projects/web/" in tcs("registry", fresh_registry.url, "--project=web").out
            finally:
                third.close()  # the second is gone: back to the first
        finally:
            second.close()
        assert f" · {first.url}/projects/web/" in tcs("registry", fresh_registry.url, "--project=web").out
    finally:
        first.close()
    assert not (state_dir / "console.json").exists()


def test_a_console_over_the_runs_own_store_is_not_sent_the_run_again(tcs, fresh_registry, pusher, state_dir):
    """--console naming the console this machine runs over the same store (by another of its names): the
    run is recorded once, in the store they share, not a second time through the console's API."""
    _push(pusher)
    server = Console(state_dir)
    try:
        submit = server.token("web", "submit")
        other_name = server.url.replace("127.0.0.1", "localhost")
        result = tcs("registry", fresh_registry.url, "--project=web", f"--console={other_name}", f"--token={submit}")
        assert result.code == 0, result.err
        assert f"warn\tThe console at {server.url} serves this store: the run is recorded once, here, not sent too" in (
            result.messages
        )
        assert f" · {server.url}/projects/web/violations?scan=1" in result.out
        assert store_rows(state_dir, "SELECT COUNT(*) FROM runs") == [(1,)]
    finally:
        server.close()


def test_scans_from_anywhere_are_sent_to_the_console_and_nothing_is_lost_while_it_is_away(
    tcs, fresh_registry, pusher, state_dir, tmp_path
):
    """The scanner keeps its own store; the console has another (a team's). Sent as the run goes, the
    summary links there; with the console away the run completes here, exits 4, and results push sends it."""
    _push(pusher)
    server = Console(tmp_path / "console-state")
    try:
        submit, read = server.token("web", "submit"), server.token("web", "read")
        away = tcs("registry", fresh_registry.url, "--project=web", "--console=http://127.0.0.1:9", f"--token={submit}")
        assert away.code == 4, away.err
        assert [m for m in away.messages if m.startswith("error")] == [
            "error\tcannot reach the console at http://127.0.0.1:9 (ConnectionError): the scan goes on here;"
            " `tcs-registry results push` sends it later"
        ]
        assert "Violation details         : 63 in 31 of 31 image platforms" in away.out  # complete here
        assert submit not in away.err + away.out
        pushed = tcs(
            "results",
            "push",
            f"--state-dir={state_dir}",
            "--project=web",
            f"--console={server.url}",
            f"--token={submit}",
        )
        assert pushed.code == 0, pushed.err
        assert pushed.out == f"Run 1 sent to {server.url}: run 1 there\n"
        page = server.api("/api/v1/projects/web/violations?limit=1", read)[1]
        assert page["total"] == 63
        again = tcs("results", "push", f"--state-dir={state_dir}", "--project=web", f"--token={submit}")
        assert again.out == "Nothing to send: the console has every run\n"
        twice = tcs(
            "results",
            "push",
            f"--state-dir={state_dir}",
            "--project=web",
            "--run=1",
            f"--console={server.url}",
            f"--token={submit}",
        )
        assert (twice.code, twice.out) == (0, f"Run 1 sent to {server.url}: run 1 there\n")  # again: the same
        assert server.api("/api/v1/projects/web/violations?limit=1", read)[1]["total"] == 63

        sent = tcs("registry", fresh_registry.url, "--project=web", f"--console={server.url}", f"--token={submit}")
        assert sent.code == 0, sent.err
        lines = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in sent.out.splitlines())}
        assert lines["Violation details"].endswith(f" · {server.url}/projects/web/violations?scan=2")
        registries = server.api("/api/v1/projects/web/registries", read)[1]["items"]
        assert [(r["run"], r["violations"]) for r in registries] == [
            (2, {"CRITICAL": 1, "HIGH": 30, "MEDIUM": 1, "LOW": 31})
        ]
        # data, not the page's drawing of it: a time as RFC 3339 has it, and each scan's counts
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", registries[0]["scanned_at"])
        assert [(point["run"], point["vulnerabilities"]) for point in registries[0]["trend"]] == [(1, {}), (2, {})]
        refused = tcs("registry", fresh_registry.url, "--project=web", f"--console={server.url}", f"--token={read}")
        assert refused.code == 4
        assert f"error\tthe console at {server.url} refused the token's role (project 'web'): the scan goes on" in (
            "\n".join(refused.messages)
        )
    finally:
        server.close()


def test_the_submission_api_refuses_what_is_not_a_scan(console):
    submit = console.token("web", "submit")

    def post(path: str, body: object) -> tuple[int, dict]:
        request = urllib.request.Request(  # noqa: S310 - the console's own http:// URL
            console.url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {submit}", "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    begin = {"registry": "https://r.example.com", "client": "k1", "shard": [1, 1]}
    status, body = post("/api/v1/projects/web/runs", begin)
    assert status == 200
    assert post("/api/v1/projects/web/runs", begin) == (200, body)  # the same client key: the same run
    run = body["run"]
    assert post("/api/v1/projects/web/runs", {**begin, "client": "k2", "shard": [3, 2]})[0] == 422
    assert post("/api/v1/projects/web/runs", {**begin, "registry": "file:///etc"})[0] == 422
    images = f"/api/v1/projects/web/runs/{run}/images"
    assert post(images, {"scans": [{"document": {"repository": "x"}}]})[0] == 422
    bad_finding = {"document": {}, "findings": {"vulnerabilities": [{"id": 1}]}}
    assert post(images, {"scans": [bad_finding]})[0] == 422
    assert post(images, {"images": [{"repository": "a", "tag": "1", "digest": "sha256:x", "media_type": "m"}]}) == (
        200,
        {"new": 1},
    )
    assert post(f"/api/v1/projects/web/runs/{run}/finish", {"status": "complete", "found": 1})[0] == 200
    assert post(images, {"images": []}) == (200, {"new": 0})  # sent again after its end: nothing changes
    assert post("/api/v1/projects/web/runs/99999/images", {"images": []})[0] == 404
    assert post("/api/v1/projects/payments/runs", begin)[0] == 404


def test_exports_admin_tokens_and_the_trend(console, browser, tmp_path):
    from selenium.webdriver.common.by import By

    def log_in(role: str) -> None:
        browser.get(console.url + "/login")
        browser.find_element(By.NAME, "token").send_keys(console.token("web", role))
        follow(browser, (By.CSS_SELECTOR, "form[action='/login'] button"))

    log_in("read")
    bars = browser.find_elements(By.CSS_SELECTOR, "table tbody tr td svg.trend rect")
    assert bars == [] and "not matched" in browser.find_element(By.CSS_SELECTOR, "table tbody tr").text
    browser.get(console.url + "/projects/web/tokens")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Only an admin token manages the project's tokens"
    # the export, with the session's cookie, as a browser downloads it
    cookie = browser.get_cookie("tcs_session")["value"]
    request = urllib.request.Request(  # noqa: S310 - the console's own http:// URL
        console.url + "/projects/web/violations.csv?repository=evil/", headers={"Cookie": f"tcs_session={cookie}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        text = response.read().decode()
        assert response.headers["Content-Disposition"] == "attachment; filename*=UTF-8''web-violations.csv"
    lines = text.splitlines()
    assert lines[0] == "image,platform,check,severity,title,detail"
    assert lines[1].endswith(
        f",,TCS-CFG-002,CRITICAL,Secret in an environment variable,ENV {HOSTILE_ENV} (value withheld)"
    )
    assert len(lines) == 4
    # the scan as one SARIF run, the link on the project page: what `results --format sarif` writes
    browser.get(console.url + "/projects/web")
    link = browser.find_element(By.LINK_TEXT, "SARIF").get_attribute("href")
    request = urllib.request.Request(link, headers={"Cookie": f"tcs_session={cookie}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        sarif = json.loads(response.read())
        host = urllib.parse.urlsplit(console.registry).netloc
        name = host.replace(".", "-").replace(":", "-")
        assert response.headers["Content-Disposition"] == f"attachment; filename*=UTF-8''{name}-run-1.sarif"
    (run,) = sarif["runs"]
    assert run["automationDetails"] == {"id": f"tcs-registry/{host}/"}
    assert len(run["results"]) == 63  # every violation of the scan
    shown = [*console.where, "--project=web", "--run=1", "--format=sarif"]
    written = subprocess.run([console_script(), "results", *shown], capture_output=True, text=True, check=True)
    assert json.loads(written.stdout)["runs"][0]["results"] == run["results"]
    for missing in ("99", str(2**64)):  # no such scan, one no store could hold
        request = urllib.request.Request(link.replace("/1.sarif", f"/{missing}.sarif"), headers=request.headers)  # noqa: S310
        with pytest.raises(urllib.error.HTTPError, match="404") as refused:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310
        assert f"No run {missing} in this project" in refused.value.read().decode()  # as the API's words
    pasted = urllib.request.Request(link.replace("/1.sarif", "/tcs_pasted-token.sarif"), headers=request.headers)  # noqa: S310
    with pytest.raises(urllib.error.HTTPError, match="404") as refused:
        urllib.request.urlopen(pasted, timeout=30)  # noqa: S310
    page = refused.value.read().decode()
    assert "No such run in this project" in page and "pasted" not in page  # what is no number is not echoed

    log_in("admin")
    follow(browser, (By.LINK_TEXT, "Tokens"))
    before = len(browser.find_elements(By.CSS_SELECTOR, "table tbody tr"))
    browser.find_element(By.NAME, "name").send_keys("nightly <ci>")
    follow(browser, (By.CSS_SELECTOR, "form.filters button"))
    made = browser.find_element(By.CSS_SELECTOR, ".made .secret").get_attribute("value")
    assert made.startswith("tcs_")
    assert console.api("/api/v1/projects/web/violations?limit=1", made)[0] == 403  # a submit token, the default
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert len(rows) == before + 1 and "nightly <ci>" in rows[-1].text
    screenshot(browser, "tokens", tmp_path)
    browser.get(console.url + "/projects/web/tokens")
    assert not browser.find_elements(By.CSS_SELECTOR, ".made")  # shown once
    follow(browser, browser.find_elements(By.CSS_SELECTOR, "button.danger")[-1])
    assert console.api("/api/v1/projects/web/violations?limit=1", made)[0] == 401  # revoked


def test_the_changes_page_shows_what_a_rescan_changed(console, browser, tcs, fresh_registry, pusher, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base = make_layer({"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n"})
    layers = [base, make_layer({"a": bytes([0])})]
    pusher.image(
        "team/app00", "1", created="2026-11-01T00:00:00Z", layers=layers, extra_config={"config": {"User": "app"}}
    )
    assert tcs("registry", fresh_registry.url, "--project=web").code == 0
    browser.get(console.url + "/login")
    browser.find_element(By.NAME, "token").send_keys(console.token("web", "read"))
    follow(browser, (By.CSS_SELECTOR, "form[action='/login'] button"))
    follow(browser, (By.LINK_TEXT, "Changes"))
    assert browser.find_element(By.CSS_SELECTOR, "p.summary").text == "Since run 1"
    rows = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in browser.find_elements(
        By.CSS_SELECTOR, "table.findings tbody tr")]  # fmt: skip
    assert [(row[0].split("/", 1)[1], row[2]) for row in rows] == [
        ("team/app00:1", "new digest"),
        ("team/app00:1", "fixed violation"),
    ]
    assert rows[1][3] == "TCS-CFG-001 no USER is set"
    assert {row[1] for row in rows} == {"(single platform)"}  # not an empty cell
    screenshot(browser, "changes", tmp_path)

    # the scans to compare, picked: the first scan has nothing before it; run 2 since run 1 as above
    scans = Select(browser.find_element(By.NAME, "scan"))
    assert [o.text.split(" · ")[0] for o in scans.options] == ["each registry's latest", "run 2", "run 1"]
    scans.select_by_value("1")
    follow(browser, (By.CSS_SELECTOR, "form.filters button"))
    first = "The first scan of this registry: nothing to compare"
    assert browser.find_element(By.CSS_SELECTOR, "p.summary").text == first
    Select(browser.find_element(By.NAME, "scan")).select_by_value("2")
    Select(browser.find_element(By.NAME, "since")).select_by_value("1")
    follow(browser, (By.CSS_SELECTOR, "form.filters button"))
    assert browser.find_element(By.CSS_SELECTOR, "p.summary").text == "Since run 1"
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.findings tbody tr")) == 2

    # the image's history: its two scans, the moved digest, and the earlier scan's findings
    follow(browser, (By.LINK_TEXT, "Violations"))
    browser.find_element(By.NAME, "repository").send_keys("team/app00")
    follow(browser, (By.CSS_SELECTOR, "form.filters button"))
    follow(browser, (By.CSS_SELECTOR, "td.image a"))
    history = [[c.text for c in r.find_elements(By.TAG_NAME, "td")] for r in browser.find_elements(
        By.CSS_SELECTOR, "section.history tbody tr")]  # fmt: skip
    assert [(row[0], row[3].endswith("new digest"), row[4], row[5]) for row in history] == [
        ("run 2 (shown)", True, "not matched", "1 low"),  # no vulnerability database: not "none"
        ("run 1", False, "not matched", "1 high 1 low"),
    ]
    assert [c.text for c in browser.find_elements(By.CSS_SELECTOR, "section.platform td.id")] == ["TCS-CFG-004"]
    screenshot(browser, "image-history", tmp_path)
    follow(browser, (By.LINK_TEXT, "run 1"))
    assert browser.find_element(By.CSS_SELECTOR, "p.notice").text == (
        "An earlier scan of this image, in run 1: see its latest scan."
    )
    ids = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "section.platform td.id")]
    assert ids == ["TCS-CFG-001", "TCS-CFG-004"]
    follow(browser, (By.LINK_TEXT, "see its latest scan"))
    assert not browser.find_elements(By.CSS_SELECTOR, "p.notice")

    # a dry run to compare with: said, as the CLI says it (not every image listed as new)
    assert tcs("registry", fresh_registry.url, "--project=web", "--mode=dry-run").code == 0
    browser.get(console.url + "/projects/web/changes?since=3")
    assert "Run 3 scanned no image (a dry run?): nothing to compare with" in browser.page_source
    assert not browser.find_elements(By.CSS_SELECTOR, "table.findings")
    browser.get(console.url + "/projects/web/changes?since=abc")
    assert "scan and since are runs' numbers" in browser.page_source


def test_a_base_layer_that_brings_findings_into_several_images(tcs, fresh_registry, pusher, state_dir, browser):
    from selenium.webdriver.common.by import By

    from tcs_registry.testing.images import tar_layer
    from tcs_registry.testing.vulnerable import alpine

    fixtures = Path(__file__).parent / "fixtures"
    base = tar_layer(alpine(fixtures / "pkgdb"))  # musl 1.2.4-r0: CVE-2025-26519, twice (musl, musl-utils)
    for repository in ("apps/one", "apps/two"):
        pusher.image(
            repository, "1", created="2026-11-01T00:00:00Z", layers=[base, make_layer({"x": repository.encode()})]
        )
    assert tcs("db", "import", str(fixtures / "osv"), f"--state-dir={state_dir}").code == 0
    assert tcs("registry", fresh_registry.url, "--project=web").code == 0
    server = Console(state_dir)
    try:
        browser.get(server.url + "/login")
        browser.find_element(By.NAME, "token").send_keys(server.token("web", "read"))
        follow(browser, (By.CSS_SELECTOR, "form[action='/login'] button"))
        cells = browser.find_elements(By.CSS_SELECTOR, "table tbody tr td")  # the project's page, matched
        assert [cells[3].text, cells[5].text.strip() != "not matched"] == ["4 high", True]
        follow(browser, (By.LINK_TEXT, "Base layers"))
        rows = browser.find_elements(By.CSS_SELECTOR, "table.findings tbody tr")
        assert [row.text.split(" ", 1)[1] for row in rows] == ["high 4 findings into 2 image platforms"]
        assert rows[0].text.startswith(base[1][:19])
        follow(browser, rows[0].find_element(By.TAG_NAME, "a"))
        assert browser.find_element(By.CSS_SELECTOR, ".pager span").text == "Page 1 of 1 · 4 in all"
        follow(browser, (By.CSS_SELECTOR, "td.image a"))  # an image, its history, and its exports
        history = browser.find_elements(By.CSS_SELECTOR, "section.history tbody tr td")
        assert [c.text for c in history][4:] == ["2 high", "1 high 1 low"]
        links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "p.summary a")}
        cookie = browser.get_cookie("tcs_session")["value"]
        for name, link in links.items():
            request = urllib.request.Request(link, headers={"Cookie": f"tcs_session={cookie}"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                document = json.loads(response.read())
            if name == "SARIF":
                rules = sorted(r["ruleId"] for r in document["runs"][0]["results"])
                assert rules == ["CVE-2025-26519", "CVE-2025-26519", "TCS-CFG-001", "TCS-CFG-004"]
            else:
                assert [v["id"] for v in document["vulnerabilities"]] == ["CVE-2025-26519"] * 2  # musl, musl-utils
        assert sorted(links) == ["CycloneDX", "SARIF"]
        unknown = urllib.request.Request(  # noqa: S310
            f"{server.url}/projects/web/layers?scan=999", headers={"Cookie": f"tcs_session={cookie}"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:  # (it showed the latest scan's layers)
            urllib.request.urlopen(unknown, timeout=30)  # noqa: S310
        assert refused.value.code == 404
    finally:
        server.close()


def test_the_console_on_a_postgresql_store(tcs, fresh_registry, pusher, state_dir, postgres, tmp_path):
    """A team's set-up: scans write a PostgreSQL store, the console reads it; and scans sent to a console
    whose store is PostgreSQL."""
    _push(pusher)
    store = postgres.database()
    assert tcs("registry", fresh_registry.url, "--project=web", f"--store={store}").code == 0
    server = Console(tmp_path / "console-state", store)
    try:
        read, submit = server.token("web", "read"), server.token("web", "submit")
        page = server.api("/api/v1/projects/web/violations?limit=5&severity=critical", read)[1]
        assert page["total"] == 1 and page["items"][0]["detail"] == f"ENV {HOSTILE_ENV} (value withheld)"
        sent = tcs("registry", fresh_registry.url, "--project=web", f"--console={server.url}", f"--token={submit}")
        assert sent.code == 0, sent.err
        registries = server.api("/api/v1/projects/web/registries", read)[1]["items"]
        assert [(r["run"], r["violations"]) for r in registries] == [
            (2, {"CRITICAL": 1, "HIGH": 30, "MEDIUM": 1, "LOW": 31})
        ]
        # PostgreSQL's text holds no NUL, and no text holds a lone surrogate: each is stored as its escape
        assert server.api("/api/v1/projects/web/vulnerabilities?id=a%00b", read) == (
            200,
            {"items": [], "total": 0, "next": None},
        )
        import requests

        headers = {"Authorization": f"Bearer {submit}", "Content-Type": "application/json"}
        begun = requests.post(
            f"{server.url}/api/v1/projects/web/runs", data=rb'{"registry": "https://x\u0000y", "client": "\ud800"}',
            headers=headers, timeout=30,
        )  # fmt: skip
        assert begun.status_code == 200, begun.text
        image = rb'{"repository": "a\u0000b", "tag": "\udc9b", "digest": "sha256:0", "media_type": ""}'
        sent = requests.post(
            f"{server.url}/api/v1/projects/web/runs/{begun.json()['run']}/images", data=b'{"images": [' + image + b"]}",
            headers=headers, timeout=30,
        )  # fmt: skip
        assert sent.json() == {"new": 1}
        finding = {
            "id": "CVE-1\x00", "aliases": [], "package": "p", "package_type": "deb", "purl": "",
            "installed_version": "1",
            "fixed_version": "", "severity": "HIGH", "severity_source": "", "score": None, "vector": "", "layer": "",
            "location": "", "title": "t",
        }  # fmt: skip
        document = {"repository": "a", "tag": "\udc9b", "digest": "sha256:0", "packages": []}
        body = json.dumps({"scans": [{"document": document, "findings": {"vulnerabilities": [finding]}}]})
        sent = requests.post(
            f"{server.url}/api/v1/projects/web/runs/{begun.json()['run']}/images",
            data=body,
            headers=headers,
            timeout=30,
        )
        assert sent.status_code == 200, sent.text
        found = server.api("/api/v1/projects/web/vulnerabilities?id=cve-1%00&scan=" + str(begun.json()["run"]), read)
        assert [(i["id"], i["package"]) for i in found[1]["items"]] == [("CVE-1\\x00", "p")], found
        scan_id = rb'{"registry": "https://x", "client": "k2", "scan_id": "a\u0000b"}'
        joined = requests.post(f"{server.url}/api/v1/projects/web/runs", data=scan_id, headers=headers, timeout=30)
        assert joined.status_code == 200, joined.text
        import sqlalchemy as sa

        engine = sa.create_engine(store.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT repository, tag FROM images WHERE digest = 'sha256:0'"))
            assert rows.fetchall() == [("a\\x00b", "\\udc9b")]
        engine.dispose()
    finally:
        server.close()


def test_hostile_submissions_and_requests_get_an_answer_never_a_crash(console, tcs, fresh_registry, tmp_path):
    """What a review sent: shapes that pass a loose check and break pages later, numbers past SQLite's,
    a non-ASCII CSRF field, another project reading a digest it did not scan, a password in --console."""
    web, other = console.token("web", "submit"), console.token("other", "submit")
    read_web, read_other = console.token("web", "read"), console.token("other", "read")

    answers: dict[str, dict] = {}

    def post(path: str, body: object, token: str = web, raw: bytes | None = None) -> int:
        request = urllib.request.Request(  # noqa: S310 - the console's own http:// URL
            console.url + path, data=raw if raw is not None else json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                answers[path] = json.loads(response.read())
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    begin = {"registry": "https://r.example.com", "client": "hostile"}
    assert post("/api/v1/projects/web/runs", begin) == 200
    run = answers["/api/v1/projects/web/runs"]["run"]
    images = f"/api/v1/projects/web/runs/{run}/images"
    document = {"repository": "a", "tag": "1", "digest": "sha256:secret", "os": "Debian", "packages": []}
    vulnerability = {
        "id": "GHSA-jfh8-c2jp-5v3q", "aliases": ["CVE-2021-44228"], "package": "log4j", "package_type": "maven",
        "purl": "pkg:maven/x/log4j@2.14", "installed_version": "2.14", "fixed_version": "2.15",
        "severity": "critical", "severity_source": "GHSA", "score": 10.0, "vector": "", "layer": "sha256:l",
        "location": "app.jar", "title": "t",
    }  # fmt: skip
    for bad in (
        {**vulnerability, "score": "9.8"},
        {**vulnerability, "severity": "severe"},
        {**vulnerability, "title": 5},
        {k: v for k, v in vulnerability.items() if k != "id"},
    ):
        assert post(images, {"scans": [{"document": document, "findings": {"vulnerabilities": [bad]}}]}) == 422
    assert post(images, {"scans": [{"document": {**document, "packages": [{"name": 1}]}}]}) == 422
    assert post(images, {"scans": [{"document": {**document, "platform": "a/b/c/d/e"}}]}) == 422
    assert post(images, None, raw=b"[" * 100_000) == 422
    assert post("/api/v1/projects/web/runs", {**begin, "client": "big", "shard": [1, 2**70]}) == 422
    assert post(f"/api/v1/projects/web/runs/{2**70}/finish", {"status": "complete"}) == 404
    extra = {**vulnerability, "extra": "kept?"}
    assert post(images, {"scans": [{"document": document, "findings": {"vulnerabilities": [extra]}}]}) == 200
    twice = {"document": document, "findings": {"vulnerabilities": [vulnerability]}}  # (one image platform twice
    assert post(images, {"scans": [twice, twice]}) == 200  # in one batch: its last, as a scan sent again)
    found = console.api("/api/v1/projects/web/vulnerabilities?id=GHSA-jfh8-c2jp-5v3q", read_web)[1]
    assert [(i["id"], i["severity"]) for i in found["items"]] == [("GHSA-jfh8-c2jp-5v3q", "CRITICAL")]  # as written
    assert console.api("/api/v1/projects/web/vulnerabilities?id=cve-2021-44228", read_web)[1]["total"] == 1
    assert console.api(f"/api/v1/projects/web/vulnerabilities?offset={2**70}", read_web)[0] == 422
    assert console.api("/api/v1/projects/web/vulnerabilities?scan=99999", read_web) == (
        404,
        {"detail": "No run 99999 in this project"},
    )
    for junk in (2**70, "abc", "-1", "%D9%A1"):  # (an Arabic-Indic one: a digit to str.isdecimal)
        assert console.api(f"/api/v1/projects/web/vulnerabilities?scan={junk}", read_web)[0] == 422
    many = {**vulnerability, "aliases": [f"ALIAS-{n}" for n in range(101)]}  # each name is a row of an index
    assert post(images, {"scans": [{"document": document, "findings": {"vulnerabilities": [many]}}]}) == 422
    # another project sends a scan of the same digest: it sees its own document, never web's
    assert post("/api/v1/projects/other/runs", begin, other) == 200
    other_run = answers["/api/v1/projects/other/runs"]["run"]
    forged = {**document, "os": "FORGED"}
    assert post(f"/api/v1/projects/other/runs/{other_run}/images", {"scans": [{"document": forged}]}, other) == 200
    assert console.api("/api/v1/projects/other/vulnerabilities", read_other)[1]["total"] == 0
    request = urllib.request.Request(console.url + "/login", data=b"token=x&csrf_token=%C3%A9", method="POST")  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310
    assert refused.value.code == 403
    assert refused.value.headers["Content-Security-Policy"].startswith("default-src 'none'")
    # a form is parsed before its CSRF token is checked: anyone's, so it is small and says how small
    big = b"token=x&csrf_token=y&pad=" + b"a" * 17 * 1024  # (over 16 KiB; within what the socket takes
    # before the refusal closes it: a bigger body still being sent then met a broken pipe)
    for body, headers in ((big, {}), (iter([b"token=x&csrf_token=y"]), {"Transfer-Encoding": "chunked"})):
        request = urllib.request.Request(console.url + "/login", data=body, method="POST", headers=headers)  # noqa: S310
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310
        assert refused.value.code == 413 and refused.value.read() == b"a form sends at most 16384 bytes"
        assert refused.value.headers["Content-Security-Policy"].startswith("default-src 'none'")
    leaked = tcs("registry", fresh_registry.url, "--console=https://user:s3cretpass@console.example.com", "--token=t")
    assert leaked.code == 2 and "s3cretpass" not in leaked.err
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (console.state_dir / "unsent.json").symlink_to(victim)
    assert tcs("registry", fresh_registry.url, "--project=web", "--console=http://127.0.0.1:9", f"--token={web}").code
    assert victim.read_text() == "keep me"  # a planted link is not written through


def test_the_console_stops_cleanly_and_says_why_it_cannot_listen(state_dir):
    """Ctrl-C is how a server is stopped: exit 0 and one line, not a scan's "Interrupted". An address in
    use is one error line (exit 3), not the web server's own."""
    server = Console(state_dir)
    port = int(server.url.rsplit(":", 1)[1])
    store = f"sqlite:///{state_dir / 'state.db'}"
    assert [line.split("\t", 1)[1] for line in server.started] == [  # a mistyped --state-dir would say so
        f"warn\tNo scan in the store {store} yet: the console shows what scans write there\n",
        f"info\tConsole at {server.url}/ store={store}\n",
    ]
    where = f"--state-dir={state_dir}"
    taken = subprocess.run(
        [console_script(), "console", "serve", f"--port={port}", where], capture_output=True, text=True, timeout=60
    )
    assert taken.returncode == 3
    assert taken.stderr.count("\n") == 1
    assert taken.stderr.endswith(f"\terror\tthe console cannot listen on 127.0.0.1:{port}: Address already in use\n")
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=30) == 0
    assert server.process.stderr.read().splitlines()[-1].endswith("\tinfo\tConsole stopped")
    assert not (state_dir / "console.json").exists()  # scans link to it no more
    again = Console(state_dir)  # SIGTERM (`docker stop`, Kubernetes) alike
    again.process.send_signal(signal.SIGTERM)
    assert again.process.wait(timeout=30) == 0
    assert again.process.stderr.read().splitlines()[-1].endswith("\tinfo\tConsole stopped")


def test_a_run_named_to_push_that_is_not_sent_is_pushed_again_by_the_same_command(
    tcs, fresh_registry, state_dir, monkeypatch
):
    """`results push --run N` to a console that is away: the run is not in the queue of unsent runs (that
    holds the scans' own), so the hint is the same command again, not the bare `results push`."""
    from urllib3.util.retry import Retry

    import tcs_registry.submit
    from tcs_registry.testing.registry import free_port

    class AtOnce(Retry):  # (its retries without their 7 s of backoff)
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **{**kwargs, "backoff_factor": 0})

    monkeypatch.setattr(tcs_registry.submit, "Retry", AtOnce)

    assert tcs("registry", fresh_registry.url, "--mode=dry-run").code == 0
    away = f"--console=http://127.0.0.1:{free_port()}"
    result = tcs("results", "push", "--run=1", away, "--token=tcs_x", f"--state-dir={state_dir}")
    assert result.code == 3
    assert result.messages[-1] == "error\trun 1 not sent; run the same command again"


def test_a_submitter_changes_only_its_own_runs_and_bad_requests_get_short_answers(console, tcs, fresh_registry):
    """What a review sent: a submit token rewriting a scan tcs-registry recorded itself, or joining its
    scan; a filter's name misspelt; a token pasted where a run's number goes; a form field that is a
    file; a revoked id no database holds; a project whose name needs escaping in a URL; a dry run asked
    for its findings; a page past the end."""
    import requests

    submit = console.token("web", "submit")
    read = console.token("web", "read")
    api = f"{console.url}/api/v1/projects/web"
    bearer = {"Authorization": f"Bearer {submit}"}
    before = console.api("/api/v1/projects/web/violations?scan=1", read)[1]["total"]
    planted = {"document": {"repository": "team/app00", "tag": "1", "digest": "sha256:0", "packages": []}}
    refused = requests.post(f"{api}/runs/1/images", json={"scans": [planted]}, headers=bearer, timeout=30)
    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": "Run 1 was not begun through this API: a submitter cannot change it"},
    )
    finish = requests.post(f"{api}/runs/1/finish", json={"status": "failed"}, headers=bearer, timeout=30)
    assert finish.status_code == 403
    assert console.api("/api/v1/projects/web/violations?scan=1", read)[1]["total"] == before == 63
    assert store_rows(console.state_dir, "SELECT status FROM runs WHERE id = 1") == [("complete",)]
    begin = {"registry": "https://r.example.com", "client": "k"}
    joined = requests.post(f"{api}/runs", json={**begin, "scan_id": "run-1"}, headers=bearer, timeout=30)
    assert (joined.status_code, joined.json()) == (
        422,
        {"detail": "a scan_id beginning run- is a run's own: choose another"},
    )
    nightly = tcs("registry", fresh_registry.url, "--project=web", "--scan-id=nightly", "--allowList=evil/*")
    assert nightly.code == 0, nightly.err
    joined = requests.post(f"{api}/runs", json={**begin, "scan_id": "nightly"}, headers=bearer, timeout=30)
    assert joined.status_code == 409
    own = requests.post(f"{api}/runs", json={**begin, "scan_id": "sent"}, headers=bearer, timeout=30).json()["run"]
    sent = requests.post(f"{api}/runs/{own}/finish", json={"status": "complete"}, headers=bearer, timeout=30)
    assert sent.json() == {"run": own, "status": "complete"}
    image = {"repository": "a", "tag": "1", "digest": "sha256:0", "media_type": "", "platforms": ["linux"]}
    os_alone = requests.post(f"{api}/runs/{own}/images", json={"images": [image]}, headers=bearer, timeout=30)
    assert os_alone.status_code == 200  # (an index entry or a config may name its os alone, as sent)
    for platforms in (["a/b/c/d/e"], ["linux//"], ["/amd64"]):
        image = {"repository": "a", "tag": "1", "digest": "sha256:0", "media_type": "", "platforms": platforms}
        odd = requests.post(f"{api}/runs/{own}/images", json={"images": [image]}, headers=bearer, timeout=30)
        assert (odd.status_code, odd.json()) == (422, {"detail": "a platform must be os/architecture[/variant]"})
    pasted = requests.post(f"{api}/runs/{submit}/images", json={}, headers=bearer, timeout=30)
    assert (pasted.status_code, pasted.json()) == (404, {"detail": "No such run in this project"})

    assert console.api("/api/v1/projects/web/violations?sevrity=critical", read) == (
        422,
        {"detail": "'sevrity' is no filter: fixable, id, layer, package, repository, scan, severity"},
    )
    assert console.api("/api/v1/projects/web/violations?limit=%EF%BC%95", read)[0] == 422  # a full-width 5
    long = requests.get(
        f"{api}/violations?severity={'A' * 100_000}", headers={"Authorization": f"Bearer {read}"}, timeout=30
    )
    assert long.status_code == 422 and len(long.content) < 200
    dry = tcs("registry", fresh_registry.url, "--project=web", "--mode=dry-run", "--allowList=evil/*")
    assert dry.code == 0, dry.err
    (dry_run,) = store_rows(console.state_dir, "SELECT max(id) FROM runs WHERE mode = 'dry-run'")[0]
    assert console.api(f"/api/v1/projects/web/vulnerabilities?scan={dry_run}", read) == (
        422,
        {"detail": f"Run {dry_run} scanned no image (a dry run?)"},
    )
    nothing = tcs("registry", fresh_registry.url, "--project=web", "--allowList=none/*")  # a scan of no image
    assert nothing.code == 0, nothing.err
    (none_run,) = store_rows(console.state_dir, "SELECT max(id) FROM runs WHERE mode = 'scan'")[0]
    assert console.api(f"/api/v1/projects/web/vulnerabilities?scan={none_run}", read) == (
        200,
        {"items": [], "total": 0, "next": None},
    )  # (the summary of that scan links there)
    assert requests.get(f"{api}/nothing", timeout=30).json() == {"detail": "Not Found"}
    assert requests.delete(f"{api}/violations", timeout=30).json() == {"detail": "Method Not Allowed"}

    session = requests.Session()

    def log_in(token: str) -> requests.Response:
        form = session.get(f"{console.url}/login", timeout=30).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        return session.post(f"{console.url}/login", data={"token": token, "csrf_token": csrf}, timeout=30)

    odd = console.token("team a#1?x", "admin")
    home = log_in(odd)
    assert home.status_code == 200 and home.url == f"{console.url}/projects/team%20a%231%3Fx"
    assert "team a#1?x" in home.text
    csrf = session.get(f"{console.url}/projects/team%20a%231%3Fx/tokens", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', csrf.text).group(1)
    revoked = session.post(
        f"{console.url}/projects/team%20a%231%3Fx/tokens/{2**70}/revoke", data={"csrf_token": token}, timeout=30
    )
    assert revoked.status_code == 404 and "No such token in this project" in revoked.text
    filed = session.post(
        f"{console.url}/login", files={"token": ("t.txt", b"x"), "csrf_token": (None, "y")}, timeout=30
    )
    assert filed.status_code == 422 and "Not a request this console takes (body.token)" in filed.text
    assert "Spooled" not in filed.text and "<html" in filed.text
    log_in(read)
    unknown = session.get(f"{console.url}/projects/web/nothing/here", timeout=30)
    assert unknown.status_code == 404 and "<html" in unknown.text  # a page, as every page's error
    last = session.get(f"{console.url}/projects/web/violations?page=99999", timeout=30)
    assert last.status_code == 200 and "No violation matches" not in last.text
    assert len(re.findall(r"<tr>", last.text)) > 1  # the last page's rows
