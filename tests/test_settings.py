"""Settings precedence (flag > env > config file > default) and the config file."""

from __future__ import annotations

import pytest

from tcs_registry.errors import UsageError
from tcs_registry.settings import load_config, resolve


def test_precedence_flag_env_config_default(isolated, monkeypatch):
    (isolated / "config").write_text(
        'username = "from-config"\npassword = "pc"\nproject = "cfg-project"\n'
        'mode = "dry-run"\nmax_images = 7\nallowList = ["team/*", "base"]\n'
    )
    s = resolve("registry.example.com", {})
    assert (s.credentials.username, s.credentials.source, s.project, s.mode, s.max_images) == (
        "from-config",
        "config",
        "cfg-project",
        "dry-run",
        7,
    )
    assert s.image_filter.admits("team/x", "1") and not s.image_filter.admits("other", "1")
    assert s.url == "https://registry.example.com"

    monkeypatch.setenv("TCS_REGISTRY_USERNAME", "from-env")
    monkeypatch.setenv("TCS_PROJECT_ID", "env-project")
    s = resolve("registry.example.com", {})
    assert (s.credentials.username, s.credentials.source, s.project) == ("from-env", "env", "env-project")

    s = resolve("registry.example.com", {"username": "from-flag", "project": "flag-project", "mode": "scan"})
    assert (s.credentials.username, s.credentials.source, s.project, s.mode) == (
        "from-flag",
        "flag",
        "flag-project",
        "scan",
    )
    assert s.credentials.password == "pc"  # each setting is resolved on its own


def test_home_config_is_the_fallback(isolated):
    home_config = isolated.parent / "home" / ".accurics" / "config"
    home_config.parent.mkdir(parents=True)
    home_config.write_text('project = "from-home"\n')
    assert resolve("r.example.com", {}).project == "from-home"
    (isolated / "config").write_text('project = "from-cwd"\n')
    assert resolve("r.example.com", {}).project == "from-cwd"
    (isolated / "other.toml").write_text('project = "explicit"\n')
    assert resolve("r.example.com", {"config": "other.toml"}).project == "explicit"


def test_a_config_directory_is_not_a_config_file(isolated):
    (isolated / "config").mkdir()
    assert resolve("r.example.com", {}).project == "default"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("username = ", "is not valid TOML"),
        ('usename = "x"\n', "unknown key 'usename'"),
        ('max_images = "ten"\n', "'max_images' has the wrong type"),
        ("insecure = 1\n", "'insecure' has the wrong type"),
    ],
)
def test_malformed_config(isolated, text, message):
    (isolated / "config").write_text(text)
    with pytest.raises(UsageError, match=message):
        load_config(None)


def test_malformed_config_through_the_cli(tcs, isolated):
    (isolated / "config").write_text("mode = [\n")
    result = tcs("registry", "https://registry.example.com")
    assert result.code == 2
    assert result.messages[-1].startswith("error\tconfig file 'config' is not valid TOML: ")
