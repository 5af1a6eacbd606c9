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
        ('max_images = "ten"\n', "'max_images' must be a whole number, not a string"),
        ("insecure = 1\n", "'insecure' must be true or false, not 1"),
        (
            "allowList = [1, 2]\n",
            r"'allowList' must be a string or a list of strings, not a list with a non-string item",
        ),
        ('denyList = ["team/*", ["a"]]\n', "'denyList' must be a string or a list of strings"),
        (
            "format = [true]\n",
            "'format' must be a string or a list of strings, not a list with a non-string item",
        ),
        ("password = 123456\n", "'password' must be a string, not a number$"),  # (a secret: unshown)
        ('store = ["postgresql://tcs:s3cret@db/tcs"]\n', "'store' must be a string, not a list$"),  # (unshown)
        ("max_images = 1.5\n", "'max_images' must be a whole number, not 1.5"),
    ],
)
def test_malformed_config(isolated, text, message):
    (isolated / "ours.toml").write_text(text)
    with pytest.raises(UsageError, match=message):
        load_config("ours.toml")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("mode = [\n", "error\tconfig file 'ours.toml' is not valid TOML: "),
        (
            "allowList = [1, 2]\n",
            "error\tconfig file 'ours.toml': 'allowList' must be a string or a list of strings, not a list with a "
            "non-string item",
        ),
    ],
)
def test_malformed_config_through_the_cli(tcs, isolated, text, line):
    (isolated / "ours.toml").write_text(text)
    result = tcs("registry", "https://registry.example.com", "--config=ours.toml")
    assert result.code == 2
    assert result.messages[-1].startswith(line)


def test_a_default_config_of_our_keys_with_a_mistake_is_still_an_error(isolated):
    (isolated / "config").write_text('username = "x"\nusename = "y"\n')
    with pytest.raises(UsageError, match="unknown key 'usename'"):
        load_config(None)


def test_an_empty_config_in_the_working_directory_does_not_hide_the_users(isolated):
    (isolated / "config").write_text("")
    home = isolated.parent / "home" / ".accurics"
    home.mkdir()
    (home / "config").write_text('project = "mine"\n')
    assert load_config(None) == ({"project": "mine"}, home / "config")


GIT_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (GIT_CONFIG, "no key of ours: core"),
        ('[remote "origin"]\n\turl = git@example.com:x.git\n', "not TOML: "),
        ("#!/bin/sh\nexport X=1\n", "not TOML: "),
    ],
)
def test_a_config_in_the_working_directory_that_is_not_ours_is_skipped_with_a_warning(
    tcs, isolated, fresh_registry, text, why
):
    (isolated / "config").write_text(text)
    accurics = isolated.parent / "home" / ".accurics"
    accurics.mkdir()
    (accurics / "config").write_text('project = "from-home"\n')
    result = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert result.code == 0, result.err
    assert result.messages[0].startswith(f"warn\tIgnoring config: not a tcs-registry config file ({why}")
    assert result.messages[1] == f"info\tConfig file: {accurics / 'config'}"  # the next place is read


def test_a_config_with_a_password_others_can_read_is_warned_about(tcs, isolated, fresh_registry):
    config = isolated / "config"
    config.write_text('username = "robot"\npassword = "s3cret-in-config"\n')
    config.chmod(0o644)
    result = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert result.messages[:2] == [
        "info\tConfig file: config",
        "warn\tThe config file config holds a password and other users can read it (mode 644): chmod 600 config",
    ]
    assert "s3cret-in-config" not in result.err + result.out
    config.chmod(0o600)
    private = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert private.messages[0] == "info\tConfig file: config"
    assert not [m for m in private.messages if m.startswith("warn")]


def test_a_config_or_ignore_file_others_can_write_is_refused(tcs, isolated, fresh_registry):
    # ./config is read by default (the seed's way): one that another user can write must not decide what is
    # scanned, trusted or reported (insecure, deny_list, mode, platform, ...)
    config = isolated / "config"
    config.write_text('insecure = true\ndeny_list = ["*"]\nconcurrency = 4\n')
    config.chmod(0o666)
    refused = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert refused.code == 2
    assert refused.messages[-1] == (
        "error\tthe config file 'config' can be written by other users (mode 666, owner uid 0): refused; make it"
        " and its directory yours alone (chmod go-w)"
    )
    config.chmod(0o644)
    assert tcs("registry", fresh_registry.url, "--mode=dry-run").code == 0
    isolated.chmod(0o777)  # a directory anyone can write (and not sticky): the file can be replaced
    try:
        refused = tcs("registry", fresh_registry.url, "--mode=dry-run")
    finally:
        isolated.chmod(0o755)
    assert refused.code == 2 and f"its directory {str(isolated)!r} too" in refused.messages[-1]
    # a link to a private file, from a directory others can write: the link can be changed
    shared = isolated / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    (shared / "config").symlink_to(config)
    refused = tcs("registry", fresh_registry.url, "--mode=dry-run", f"--config={shared / 'config'}")
    assert refused.code == 2 and f"its directory {str(shared)!r} too" in refused.messages[-1]
    # the .tcsignore read by default hides findings: the same rule
    ignore = isolated / ".tcsignore"
    ignore.write_text('[[ignore]]\nid = "TCS-CFG-001"\nreason = "x"\n')
    ignore.chmod(0o666)
    refused = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert refused.code == 2 and refused.messages[-1].startswith("error\tthe ignore file '.tcsignore' can be written")


def test_fail_on_in_a_dry_run_is_warned_about(tcs, fresh_registry):
    result = tcs("registry", fresh_registry.url, "--mode=dry-run", "--fail-on=high")
    assert result.code == 0
    assert "warn\t--fail-on does nothing in a dry run: no image is scanned, nothing is found" in result.messages
    several = tcs("registry", fresh_registry.url, "--mode=dry-run", "--format=sarif", "--severity=high")
    assert several.code == 0
    assert (
        "warn\t--format, --severity do nothing in a dry run: no image is scanned, nothing is found" in several.messages
    )
