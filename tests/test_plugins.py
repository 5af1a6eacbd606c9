"""The plugin system: entry-point loading, listing, type selection, vendor overrides, scanners."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from urllib.parse import urlsplit

import pytest

from tcs_registry import Confidence, RegistryMatch, RegistryType, ScanResult, hookimpl
from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import console_script, csv_rows
from tcs_registry.testing.proxy import Proxy

ACME_PLUGIN = """
from tcs_registry import Confidence, RegistryMatch, RegistryType, hookimpl

TYPE = "ACME"


@hookimpl
def registry_types():
    return [RegistryType(TYPE, "Acme Registry")]


@hookimpl
def sniff_registry(url, probe):
    if ".acme.example" in url:
        return RegistryMatch(TYPE, Confidence.EXACT)
    answer = probe.v2()
    if answer is not None and answer.header("X-Acme-Registry"):
        return RegistryMatch(TYPE, Confidence.PROBED)
    return None


@hookimpl
def list_repositories(registry, client):
    if registry.registry_type != TYPE:
        return None
    # the vendor's "API": only repositories under team/; tags and descriptions come from plain V2
    return [r for r in client.paginate("/v2/_catalog", "repositories") if r.startswith("team/")]
"""


def install_fake_distribution(site, name, version, module, source, entry_name):
    """A real installed distribution (dist-info with entry_points.txt) in a directory on sys.path."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[tcs_registry]\n{entry_name} = {module}\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")]))
    return path


def _plugins_json(env=None):
    run = subprocess.run(
        [console_script(), "plugins", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or os.environ.copy(),
    )
    return run


def test_plugins_lists_builtin_and_entry_point_plugins(site):
    install_fake_distribution(site, "tcs-registry-acme", "1.2.3", "tcs_acme_plugin", ACME_PLUGIN, "tcs-registry-acme")
    run = _plugins_json()
    assert run.returncode == 0, run.stderr
    listed = [
        p for p in json.loads(run.stdout) if p["name"] in ("tcs-registry-acme", "tcs_registry.default_plugins.v2")
    ]
    assert listed == [
        {
            "name": "tcs-registry-acme",
            "version": "1.2.3",
            "registry_types": ["ACME"],
            "hooks": ["list_repositories", "registry_types", "sniff_registry"],
        },
        {
            "name": "tcs_registry.default_plugins.v2",
            "version": "0.1.0",
            "registry_types": ["DEFAULT_V2"],
            "hooks": [
                "authenticate",
                "describe_image",
                "list_repositories",
                "list_tags",
                "registry_types",
                "sniff_registry",
            ],
        },
    ]
    table = subprocess.run([console_script(), "plugins"], capture_output=True, text=True, timeout=60)
    assert table.stdout.splitlines()[0].split() == ["name", "version", "registry", "types", "hooks"]
    assert ["tcs-registry-acme", "1.2.3", "ACME"] in [line.split()[:3] for line in table.stdout.splitlines()]


def test_broken_plugin_is_named_and_can_be_disabled(site):
    install_fake_distribution(
        site,
        "tcs-registry-broken",
        "0.1",
        "tcs_broken_plugin",
        "raise ImportError('needs libfoo')\n",
        "tcs-registry-broken",
    )
    run = _plugins_json()
    assert run.returncode == 2
    assert run.stderr.splitlines()[-1].endswith(
        "\terror\tplugin 'tcs-registry-broken' failed to load: needs libfoo; "
        "disable it with TCS_REGISTRY_DISABLE_PLUGINS=tcs-registry-broken"
    )
    env = {**os.environ, "TCS_REGISTRY_DISABLE_PLUGINS": "tcs-registry-broken"}
    run = _plugins_json(env)
    assert run.returncode == 0, run.stderr
    assert "tcs-registry-broken" not in [p["name"] for p in json.loads(run.stdout)]
    typo = _plugins_json({**os.environ, "TCS_REGISTRY_DISABLE_PLUGINS": "broken"})  # not its entry point's name
    assert typo.returncode == 2  # still loaded, still broken: and the name that disabled nothing is said
    assert typo.stderr.splitlines()[0].endswith(
        "\twarn\tTCS_REGISTRY_DISABLE_PLUGINS names no installed plugin: 'broken' (tcs-registry plugins lists them)"
    )


def test_a_plugin_with_an_unknown_hook_is_refused():
    class Typo:
        @hookimpl
        def list_tag(self, registry, client, repository):
            return []

    with pytest.raises(Exception, match="unknown hook"):
        get_plugin_manager(load_entrypoints=False, plugins=[Typo()])


def _acme_pm(tmp_path):
    """The ACME plugin module loaded from a file and registered in a fresh plugin manager."""
    path = tmp_path / "tcs_acme_plugin.py"
    path.write_text(textwrap.dedent(ACME_PLUGIN))
    spec = importlib.util.spec_from_file_location("tcs_acme_plugin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return get_plugin_manager(load_entrypoints=False, plugins=[module])


def test_vendor_overrides_listing_and_v2_answers_the_rest(tcs, anonymous_registry, out_dir, tmp_path):
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run", "--registry-type=acme", pm=_acme_pm(tmp_path))
    assert result.code == 0, result.err
    assert result.messages[0] == "info\tIdentified registry as: ACME"
    host = anonymous_registry.host
    assert csv_rows(out_dir / f"127-0-0-1-{anonymous_registry.port}-report.csv")[1:] == [
        [f"{host}/team/api", "1.0.0", "2024-02-01T06:00:00Z", "false"],
        [f"{host}/team/api", "1.1.0", "2024-02-15T09:00:00Z", "false"],
        [f"{host}/team/api", "1.1.0-debug", "2024-02-15T09:30:00Z", "false"],
    ]


def test_sniffing_from_the_anonymous_v2_answer(tcs, anonymous_registry, tmp_path):
    def fingerprint(path, session, upstream):
        if path != "/v2/":
            return None
        return 200, {"X-Acme-Registry": "1", "Content-Type": "application/json"}, b"{}"

    with Proxy(anonymous_registry.url, fingerprint) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run", pm=_acme_pm(tmp_path))
        assert result.code == 0, result.err
        assert result.messages[0] == "info\tIdentified registry as: ACME"
        # without the fingerprint nothing claims the registry: the generic V2 plugin serves it
        plain = tcs("registry", anonymous_registry.url, "--mode=dry-run", pm=_acme_pm(tmp_path))
        assert plain.messages[0] == "info\tIdentified registry as: DEFAULT_V2"
        # --registry-type skips sniffing: the probe is not even sent
        before = proxy.paths.count("/v2/")
        forced = tcs("registry", proxy.url, "--mode=dry-run", "--registry-type=DEFAULT_V2", pm=_acme_pm(tmp_path))
        assert forced.messages[0] == "info\tIdentified registry as: DEFAULT_V2"
        assert proxy.paths.count("/v2/") == before + 1  # the client's own ping only
        assert urlsplit(proxy.url).hostname == "127.0.0.1"


def test_two_equally_sure_types_ask_for_registry_type(tcs, tmp_path):
    class Other:
        @hookimpl
        def registry_types(self):
            return [RegistryType("OTHER")]

        @hookimpl
        def sniff_registry(self, url):
            return RegistryMatch("OTHER", Confidence.EXACT)

    pm = _acme_pm(tmp_path)
    pm.register(Other())
    result = tcs("registry", "https://registry.acme.example", "--mode=dry-run", pm=pm)
    assert result.code == 2
    assert result.messages[-1] == (
        "error\thttps://registry.acme.example looks like several registry types (ACME, OTHER); pass --registry-type"
    )


def test_duplicate_type_names_are_refused(tcs):
    class Clash:
        @hookimpl
        def registry_types(self):
            return [RegistryType("DEFAULT_V2")]

    pm = get_plugin_manager(load_entrypoints=False, plugins=[Clash()])
    result = tcs("registry", "https://r.example.com", "--mode=dry-run", pm=pm)
    assert result.code == 2
    assert "registry type DEFAULT_V2 is declared by both" in result.messages[-1]


def test_scan_mode_submits_each_admitted_image_to_the_scanner(tcs, anonymous_registry):
    class Scanner:
        def __init__(self):
            self.seen = []

        @hookimpl
        def submit_scan(self, registry, client, image, options):
            self.seen.append((image.repository, image.tag, image.digest, options["project"]))
            return ScanResult(image=image, scanner="test")

    scanner = Scanner()
    pm = get_plugin_manager(load_entrypoints=False, plugins=[scanner])
    result = tcs("registry", anonymous_registry.url, "--allowList=team/*,multi/*", "--project=p1", pm=pm)
    assert result.code == 0, result.err
    assert sorted((r, t, p) for r, t, _, p in scanner.seen) == [
        ("multi/app", "2.0", "p1"),
        ("team/api", "1.0.0", "p1"),
        ("team/api", "1.1.0", "p1"),
        ("team/api", "1.1.0-debug", "p1"),
    ]
    assert all(d.startswith("sha256:") for _, _, d, _ in scanner.seen)
    assert (
        "Vulnerability details     : not matched: the vulnerability database is empty (tcs-registry db update)\n"
        in (result.out)
    )
    # a scanner of its own judges with data of its own: clean images pass --fail-on, no `db update` asked for
    gated = tcs("registry", anonymous_registry.url, "--allowList=team/*", "--fail-on=low", pm=pm)
    assert gated.code == 0, gated.err


def test_an_image_whose_plugin_crashes_is_failed_not_fatal(tcs, anonymous_registry):
    class Flaky:
        @hookimpl(tryfirst=True)
        def describe_image(self, registry, client, repository, tag):
            if repository == "alpine":
                raise KeyError("digest")
            return None

    pm = get_plugin_manager(load_entrypoints=False, plugins=[Flaky()])
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run", pm=pm)
    assert result.code == 4
    failed = [m for m in result.messages if m.startswith("error\t")]
    assert failed == [
        f"error\tFailed to describe image image={anonymous_registry.host}/alpine:{t} error=KeyError: 'digest'"
        for t in ("3.19", "3.20", "latest")
    ]
    assert "Failed images         : 3\n" in result.out
    assert "Traceback" not in result.err


def test_plugin_manager_is_fresh_and_loads_no_entry_points_when_asked():
    pm = get_plugin_manager(load_entrypoints=False)
    assert sorted(pm.get_name(p) for p in pm.get_plugins()) == [
        "tcs_registry.default_plugins.scanner",
        "tcs_registry.default_plugins.v2",
    ]
    assert sys.modules["tcs_registry.default_plugins.v2"] in pm.get_plugins()


def test_a_plugin_bug_in_list_tags_fails_that_repository_and_elsewhere_one_line(tcs, anonymous_registry):
    class Buggy:
        @hookimpl(tryfirst=True)
        def list_tags(self, registry, client, repository):
            if repository == "team/api":
                raise ValueError("bad page")
            return None

        @hookimpl(tryfirst=True)
        def list_repositories(self, registry, client):
            if registry.project == "broken":
                raise RuntimeError("catalog exploded")
            return None

    pm = get_plugin_manager(load_entrypoints=False, plugins=[Buggy()])
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run", pm=pm)
    assert result.code == 4
    assert [m for m in result.messages if m.startswith("error\t")] == [
        "error\tFailed to list tags repository=team/api error=ValueError: bad page"
    ]
    assert "Total images found    : 7 tags\n" in result.out
    assert "Failed repositories   : 1\n" in result.out

    broken = tcs("registry", anonymous_registry.url, "--mode=dry-run", "--project=broken", pm=pm)
    assert broken.code == 3
    assert broken.messages[-1] == "error\tunexpected error: RuntimeError: catalog exploded (run with -v for details)"
    assert "Traceback" not in broken.err
