"""`tcs-registry results`: what past runs found, read back from the state store."""

from __future__ import annotations

import json

from tcs_registry.testing.images import Entry, Pusher, tar_layer

OS = Entry("etc/os-release", b'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n')


def _push(registry) -> None:
    pusher = Pusher(registry.url)
    one = tar_layer([OS, Entry("lib/apk/db/installed", b"P:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n\n")])
    two = tar_layer([OS, Entry("lib/apk/db/installed", b"P:zlib\nV:1.3.1-r0\nA:x86_64\no:zlib\n\n")])
    pusher.image("team/one", "1.0", created="2024-01-01T00:00:00Z", layers=[one])
    pusher.image("team/one", "latest", created="2024-01-01T00:00:00Z", layers=[one])  # same digest as 1.0
    pusher.image("team/two", "2.0", created="2024-01-01T00:00:00Z", layers=[two])


def test_results_lists_runs_and_the_images_of_the_latest_scan(tcs, fresh_registry, state_dir):
    _push(fresh_registry)
    assert tcs("registry", fresh_registry.url, "--mode=dry-run").code == 0
    assert tcs("registry", fresh_registry.url, "--project=web").code == 0
    assert tcs("registry", fresh_registry.url).code == 0
    result = tcs("results", f"--state-dir={state_dir}")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["run", "started", "registry", "mode", "status", "found", "scanned"]
    assert [line.split()[0::3] for line in lines[2:4]] == [["3", "scan", "3"], ["1", "dry-run", "0"]]
    host = fresh_registry.host
    # no vulnerability database: not matched; violations: root user, no healthcheck, an old build
    assert [line.split() for line in lines[-5:-2]] == [
        [f"{host}/team/one:1.0", "3", "Alpine", "Linux", "v3.19", "1", "not", "matched", "3"],
        [f"{host}/team/one:latest", "3", "Alpine", "Linux", "v3.19", "1", "not", "matched", "3"],
        [f"{host}/team/two:2.0", "3", "Alpine", "Linux", "v3.19", "1", "not", "matched", "3"],
    ]
    assert lines[-1] == "Run 3 is the first scan of its registry in project 'default': nothing to compare"
    web = tcs("results", f"--state-dir={state_dir}", "--project=web")
    assert [line.split()[0] for line in web.out.splitlines()[2:3]] == ["2"]


def test_results_gives_one_image_as_json_or_cyclonedx(tcs, fresh_registry, state_dir):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    _push(fresh_registry)
    assert tcs("registry", fresh_registry.url).code == 0
    host = fresh_registry.host
    as_json = tcs("results", f"--state-dir={state_dir}", "--image=team/one:latest", "--format=json")
    document = json.loads(as_json.out)
    assert (document["image"], document["tag"]) == (f"{host}/team/one:latest", "latest")
    assert [(p["name"], p["version"], p["source_name"]) for p in document["packages"]] == [
        ("musl", "1.2.4_git20230717-r4", "musl")
    ]
    sbom = tcs("results", f"--state-dir={state_dir}", f"--image={host}/team/two:2.0", "--format=cyclonedx")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom.out) is None
    bom = json.loads(sbom.out)
    assert bom["metadata"]["component"]["name"] == f"{host}/team/two:2.0"
    assert [c["purl"] for c in bom["components"] if c["type"] == "library"] == [
        "pkg:apk/alpine/zlib@1.3.1-r0?arch=x86_64&distro=alpine-3.19.1"
    ]
    table = tcs("results", f"--state-dir={state_dir}", "--image=team/two:2.0")
    assert table.out.splitlines()[3].split()[:4] == ["zlib", "1.3.1-r0", "apk", "zlib"]


def test_results_errors_are_one_line(tcs, fresh_registry, state_dir, tmp_path):
    missing = tcs("results", f"--state-dir={tmp_path / 'nowhere'}")
    assert missing.code == 2
    assert missing.messages == [
        f"error\tno state store in '{tmp_path / 'nowhere'}': run a scan first, or use --state-dir or --store"
    ]
    _push(fresh_registry)
    assert tcs("registry", fresh_registry.url).code == 0
    unknown = tcs("results", f"--state-dir={state_dir}", "--image=team/three:1")
    assert unknown.code == 2
    assert unknown.messages == [
        "error\tno image 'team/three:1' in any scan of project 'default'; `tcs-registry results` lists them"
    ]
    several = tcs("results", f"--state-dir={state_dir}", "--format=cyclonedx")
    assert several.code == 2
    assert several.messages == [
        "error\t--format cyclonedx needs exactly one image: name it with --image (add @os/arch)"
    ]
    for asked in ("sarif", "cyclonedx"):  # (a text table in the .sarif file a CI job uploads)
        changes = tcs("results", f"--state-dir={state_dir}", "--changes", f"--format={asked}")
        assert (changes.code, changes.messages) == (
            2,
            ["error\t--changes and --since show a table or JSON (--format json)"],
        )
    # a dry run's SARIF would be empty, under the registry's category: uploaded, it closes every alert
    assert tcs("registry", fresh_registry.url, "--mode=dry-run").code == 0
    dry = tcs("results", f"--state-dir={state_dir}", "--run=2", "--format=sarif")
    assert (dry.code, dry.out, dry.messages) == (
        2,
        "",
        ["error\trun 2 scanned no image (a dry run?): nothing to write as SARIF"],
    )
    tags = tcs("results", f"--state-dir={state_dir}", f"--image={fresh_registry.host}/team/one", "--format=sarif")
    assert tags.messages == [
        f"error\t--format sarif needs exactly one image: '{fresh_registry.host}/team/one' names 2 tags"
        f" (team/one:1.0, team/one:latest): name one, {fresh_registry.host}/team/one:1.0"
    ]
    # the same image in two registries of the project (here the one registry under two names)
    assert tcs("registry", f"http://localhost:{fresh_registry.port}").code == 0
    both = tcs("results", f"--state-dir={state_dir}", "--image=team/one:latest", "--format=sarif")
    assert both.code == 2
    hosts = sorted([f"localhost:{fresh_registry.port}", fresh_registry.host])
    assert both.messages == [
        f"error\t--format sarif needs exactly one image: 'team/one:latest' is in 2 registries ({', '.join(hosts)}):"
        f" add the host, {hosts[0]}/team/one:latest"
    ]


def test_results_names_an_image_with_or_without_host_tag_and_platform(tcs, fresh_registry, state_dir):
    from tcs_registry.results import parse_image

    assert parse_image("team/one") == ("team/one", None, None)
    assert parse_image("127.0.0.1:5000/team/one:1.0@linux/ARM64") == ("team/one", "1.0", "linux/arm64")
    assert parse_image("localhost/app:2") == ("app", "2", None)
    _push(fresh_registry)
    assert tcs("registry", fresh_registry.url).code == 0
    both = json.loads(tcs("results", f"--state-dir={state_dir}", "--image=team/one", "--format=json").out)
    assert [d["tag"] for d in both] == ["1.0", "latest"]
