"""The team set-ups in examples/ run as written: each worker's command of the Kubernetes Job, the GitHub
Actions matrix and the compose file, with its environment, on a real registry and one PostgreSQL store,
together report every image exactly once, as one scan."""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from tcs_registry.report import report_name
from tcs_registry.testing.helpers import console_script, csv_rows, report_path

EXAMPLES = Path(__file__).parent.parent / "examples"


def _reports(out: Path, host: str, shards: int) -> Counter[tuple[str, ...]]:
    single = report_path(out, host)
    rows: Counter[tuple[str, ...]] = Counter()
    for k in range(1, shards + 1):
        path = single.with_name(single.name.replace(".csv", f".shard-{k}-of-{shards}.csv"))
        rows.update(tuple(row) for row in csv_rows(path)[1:])
    return rows


def _scan(tcs, registry, out: Path, store: str) -> Counter[tuple[str, ...]]:
    """What one run, alone, reports of the registry."""
    alone = tcs("registry", registry.url, "--mode=dry-run", f"--store={store}", f"--output-dir={out}", isolate=False)
    assert alone.code == 0, alone.err
    return Counter(tuple(row) for row in csv_rows(report_path(out, registry.host))[1:])


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_the_kubernetes_indexed_job(tcs, anonymous_registry, postgres, tmp_path):
    job = yaml.safe_load((EXAMPLES / "kubernetes" / "job.yaml").read_text())
    secret = yaml.safe_load((EXAMPLES / "kubernetes" / "secret.yaml").read_text())
    spec, container = job["spec"], job["spec"]["template"]["spec"]["containers"][0]
    shards = int(next(a for a in container["args"] if a.startswith("--shards=")).split("=")[1])
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", shards, shards)
    assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    assert set(secret["stringData"]) == {"TCS_REGISTRY_USERNAME", "TCS_REGISTRY_PASSWORD", "TCS_STORE_URL"}
    store = postgres.database()
    env = {"TCS_STORE_URL": store, "TCS_SCAN_ID": job["metadata"]["name"], "HOME": str(tmp_path)}
    out = tmp_path / "reports"
    for index in range(shards):  # what Kubernetes does: the same pod spec, JOB_COMPLETION_INDEX apart
        args = [a.replace("https://registry.example.com", anonymous_registry.url) for a in container["args"]]
        args = [a.replace("/reports", str(out)).replace("$(TCS_SCAN_ID)", env["TCS_SCAN_ID"]) for a in args]
        _run([console_script(), *args, "--mode=dry-run"], {**env, "JOB_COMPLETION_INDEX": str(index)}, tmp_path)
    assert _reports(out, anonymous_registry.host, shards) == _scan(
        tcs, anonymous_registry, tmp_path / "one", postgres.database()
    )
    runs = subprocess.run([console_script(), "results", f"--store={store}"], capture_output=True, text=True, check=True)
    assert (
        sorted(line.split()[-2] for line in runs.stdout.splitlines()[2 : 2 + shards]) == ["tcs-registry-scan"] * shards
    )


def test_the_github_actions_matrix(tcs, anonymous_registry, postgres, tmp_path):
    workflow = yaml.safe_load((EXAMPLES / "github-actions" / "registry-scan.yml").read_text())
    job = workflow["jobs"]["scan"]
    shards = job["strategy"]["matrix"]["shard"]
    script = next(step["run"] for step in job["steps"] if step.get("name") == "Scan this shard")
    assert f"/{len(shards)}" in script
    store = postgres.database()
    bin_dir = str(Path(console_script()).parent)
    (tmp_path / "config").write_text('mode = "dry-run"\n')  # the step as written, but a report to compare
    for shard in shards:  # each job of the matrix: its env as the workflow sets it, then the step's script
        env = {
            "REGISTRY": anonymous_registry.url,
            "TCS_STORE_URL": store,
            "TCS_SCAN_ID": "gh-4242",
            "SHARD": str(shard),
        }
        env |= {"HOME": str(tmp_path), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        done = subprocess.run(
            ["bash", "-euc", script],
            env={**os.environ, **env},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    assert set(job["env"]) >= {"TCS_STORE_URL", "TCS_SCAN_ID", "SHARD"}
    # the upload takes the file each shard's scan writes, named as the scan names it
    upload = next(step for step in job["steps"] if step.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    host = urlsplit(job["env"]["REGISTRY"]).netloc
    for shard in shards:
        sarif = upload["with"]["sarif_file"].replace("${{ matrix.shard }}", str(shard))
        expected = report_name(host, "scan", (shard, len(shards))).replace(".csv", ".sarif")
        assert sarif == f"reports/{expected}"
    assert workflow["permissions"]["security-events"] == "write"
    assert _reports(tmp_path / "reports", anonymous_registry.host, len(shards)) == _scan(
        tcs, anonymous_registry, tmp_path / "one", postgres.database()
    )


def test_the_compose_workers(tcs, anonymous_registry, postgres, tmp_path):
    compose = yaml.safe_load((EXAMPLES / "compose" / "compose.yaml").read_text())
    workers = {name: service for name, service in compose["services"].items() if name.startswith("worker-")}
    store = postgres.database()
    for service in workers.values():
        environment = {k: v for k, v in service["environment"].items() if not str(v).startswith("${")}
        environment |= {"TCS_STORE_URL": store, "HOME": str(tmp_path)}  # the compose file's own database there
        command = [re.sub(r"\$\{REGISTRY_URL\}", anonymous_registry.url, part) for part in service["command"]]
        _run([console_script(), *command, "--output-dir=reports"], environment, tmp_path)
    assert _reports(tmp_path / "reports", anonymous_registry.host, len(workers)) == _scan(
        tcs, anonymous_registry, tmp_path / "one", postgres.database()
    )
