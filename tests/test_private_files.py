"""What the tool writes is private: new directories 0700, files 0600, whatever the umask; directories
the user already had keep their mode."""

from __future__ import annotations

import os
import stat

from tcs_registry.results import results_dir
from tcs_registry.testing.helpers import report_path


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_reports_and_results_are_private(tcs, anonymous_registry, tmp_path):
    state, out = tmp_path / "new" / "state", tmp_path / "reports"
    out.mkdir(mode=0o755)
    os.chmod(out, 0o755)  # noqa: S103 - a user directory as users leave it
    old = os.umask(0o022)
    try:
        flags = [f"--state-dir={state}", f"--output-dir={out}"]
        assert tcs("registry", anonymous_registry.url, "--mode=dry-run", *flags, isolate=False).code == 0
        assert tcs("registry", anonymous_registry.url, "--format=json,sarif,cyclonedx", *flags, isolate=False).code == 0
    finally:
        os.umask(old)
    assert (mode(tmp_path / "new"), mode(state)) == (0o700, 0o700)
    files = [p for p in state.iterdir()]
    assert {p.name for p in files} >= {"state.db", "osv.db"}
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert mode(out) == 0o755  # the user's own directory
    assert mode(report_path(out, anonymous_registry.host)) == 0o600
    scan = results_dir(out, anonymous_registry.host)
    written = list(scan.rglob("*"))
    assert len(written) > 10
    assert {p.relative_to(scan).as_posix(): mode(p) for p in written} == {
        p.relative_to(scan).as_posix(): 0o700 if p.is_dir() else 0o600 for p in written
    }
