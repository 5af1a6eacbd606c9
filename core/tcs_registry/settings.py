"""Settings for a run: flag > environment variable > config file > default.

The config file is TOML. It is ``--config PATH`` if given, else ``./config``, else
``~/.accurics/config`` (the seed's locations); its keys are the long flag names::

    username = "robot$ci"
    password = "..."
    project = "payments"
    allowList = ["team/*:*", "base/*"]      # or one comma-separated string
    denyList = "*:*-debug"
    mode = "dry-run"
    max_images = 500
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import stat
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import platformdirs
from sqlalchemy.engine.url import URL

from .analysis.secrets import CHECK_IDS as SECRET_CHECK_IDS
from .analysis.secrets import CHECK_PREFIX as SECRET_PREFIX
from .choices import FAIL_ON, FORMATS, MODES
from .errors import UsageError
from .models import Credentials
from .pacing import DEFAULT_CONCURRENCY
from .patterns import ImageFilter
from .plan import Plan, read_plan
from .redaction import shown_url
from .store import is_own_scan, store_url
from .submit import console_url
from .vulns.checks import CHECK_IDS
from .vulns.ignore import FILENAME as IGNORE_FILENAME
from .vulns.ignore import IgnoreRules
from .vulns.severity import LEVELS

log = logging.getLogger("tcs_registry")
_SCAN_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,100}$")
_PLATFORM = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+(/[a-z0-9_]+)?$")
DEFAULT_CONFIG_PATHS = (Path("config"), Path("~/.accurics/config"))
ENV = {
    "username": "TCS_REGISTRY_USERNAME",
    "password": "TCS_REGISTRY_PASSWORD",
    "project": "TCS_PROJECT_ID",
    "token": "TCS_TOKEN",
    "console": "TCS_CONSOLE_URL",
    "store": "TCS_STORE_URL",
    "scan_id": "TCS_SCAN_ID",
}
# config key -> expected type(s)
CONFIG_KEYS: dict[str, tuple[type, ...]] = {
    "username": (str,),
    "password": (str,),
    "project": (str,),
    "token": (str,),
    "console": (str,),
    "allow_list": (str, list),
    "deny_list": (str, list),
    "mode": (str,),
    "registry_type": (str,),
    "max_images": (int,),
    "insecure": (bool,),
    "secrets": (bool,),
    "ca_cert": (str,),
    "state_dir": (str,),
    "store": (str,),
    "shard": (str,),
    "shards": (int,),
    "output_dir": (str,),
    "concurrency": (int,),
    "max_rate": (int, float),
    "timeout": (int, float),
    "platform": (str, list),
    "format": (str, list),
    "fail_on": (str,),
    "min_coverage": (int, float, str),
    "severity": (str, list),
    "skip_checks": (str, list),
    "ignore_file": (str,),
}
_ALIASES = {"allowlist": "allow_list", "denylist": "deny_list"}
_TYPE_WORDS = {
    str: "a string",
    list: "a list of strings",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
}


def _kind(value: Any, lists_taken: bool) -> str:
    """What a TOML value is, without what it says."""
    if isinstance(value, list):
        return "a list with a non-string item" if lists_taken else "a list"
    return {**_TYPE_WORDS, dict: "a table", int: "a number"}.get(type(value), "a date or time")


LOOPBACK_HOSTS = ("localhost", "127.", "[::1]")


def parse_registry_url(text: str) -> tuple[str, str, str]:
    """``https://host[:port][/path]`` -> (scheme, host[:port], path).

    A bare host means https, except a loopback one (``localhost:5000``), which means http, as
    crane and docker treat it. A trailing ``/v2`` is dropped: it is where the API lives, not a prefix.
    """
    raw = text.strip()
    if "://" not in raw:
        raw = ("http://" if raw.lower().startswith(LOOPBACK_HOSTS) else "https://") + raw
    if re.search(r"/[^@]*@sha256:[0-9a-f]{64}/?$", raw.partition("://")[2]):  # `docker pull`'s reference
        raise UsageError(
            "malformed registry URL: its path ends with a digest (@sha256:...): a URL names a registry, a"
            " repository or an image (every tag of it); keep one tag with --allowList='<repository>:<tag>'"
        )
    if "@" in raw:  # user:password@host, however broken: never echo what stands before the "@"
        shown = re.sub(r"^([^:/]*://)?.*@", r"\1***@", text.strip())
        raise UsageError(
            f"malformed registry URL {shown!r}: credentials do not belong in the URL; use --username/--password"
        )

    def malformed(problem: str) -> UsageError:  # (a query's values may be tokens: not shown)
        return UsageError(f"malformed registry URL {shown_url(text)!r}: {problem}")

    try:
        parts = urlsplit(raw)
        if parts.port == 0:  # (urlsplit takes it)
            raise ValueError("port 0")
    except ValueError as exc:
        port = "port" in str(exc).lower()
        raise malformed("its port is not a number from 1 to 65535" if port else "it has no valid host") from None
    if parts.scheme not in ("http", "https"):
        raise malformed("only https:// (or http:// for a plain-HTTP registry) is supported")
    if not parts.hostname or re.search(r"[\s/\\]", parts.netloc) or not _valid_host(parts.hostname):
        raise malformed("it has no valid host")
    if parts.query or parts.fragment:
        raise malformed("it must not have a query or fragment")
    if any(segment in (".", "..") for segment in unquote(parts.path).split("/")):  # (%2e%2e%2f is ../ too)
        raise malformed("its path must not have . or .. segments")
    if re.search(r"[\x00-\x20\x7f]", unquote(parts.path)) or re.search(r"%(?![0-9A-Fa-f]{2})", parts.path):
        raise malformed("its path must not have spaces, control characters or a bare %")
    path = re.sub(r"(/v2)?/*$", "", parts.path)
    return parts.scheme, parts.netloc.lower(), path


def _valid_host(host: str) -> bool:
    """An IPv6 address (urlsplit checked its brackets), or names of letters, digits, - and _, none
    starting or ending with - (``-``, ``a..b`` are no host)."""
    return ":" in host or all(
        re.fullmatch(r"(?!-)[\w-]{1,63}(?<!-)", label) for label in host.removesuffix(".").split(".")
    )


def named(name: str, origin: str) -> str:
    """How an error names a setting: as the user gave it (a flag, an environment variable, a config key)."""
    if origin == "env":
        return ENV[name]
    if origin == "config":
        return f"the config file's {name}"
    return "--" + name.replace("_", "-")


def _normalise_key(key: str) -> str:
    key = re.sub(r"(?<=[a-z])([A-Z])", r"_\1", key).lower().replace("-", "_")
    return _ALIASES.get(key.replace("_", ""), key)


def load_config(path: str | None) -> tuple[dict[str, Any], Path | None]:
    """Read the config file: the given path (must exist) or the first default that is a file and ours.
    A default one that is not TOML, or has none of our keys (``./config`` is a common name: git's own
    is TOML-like), is someone else's: skipped with a warning."""
    if path:
        candidates, required = [Path(path).expanduser()], True
    else:
        candidates, required = [p.expanduser() for p in DEFAULT_CONFIG_PATHS], False
    for candidate in candidates:
        if not candidate.is_file():
            if required:
                raise UsageError(f"config file {str(candidate)!r} does not exist or is not a file")
            continue
        try:
            raw = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read config file {str(candidate)!r}: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            if not required:
                log.warning("Ignoring %s: not a tcs-registry config file (not TOML: %s)", candidate, exc)
                continue
            raise UsageError(f"config file {str(candidate)!r} is not valid TOML: {exc}") from None
        if not required and not any(_normalise_key(key) in CONFIG_KEYS for key in raw):
            what = f"no key of ours: {', '.join(raw)}" if raw else "it is empty"
            log.warning("Ignoring %s: not a tcs-registry config file (%s)", candidate, what)
            continue
        log.info("Config file: %s", candidate)
        _refuse_if_others_write(candidate)  # (refused: no warning about its mode first)
        _warn_if_readable(candidate, raw)
        config: dict[str, Any] = {}
        for key, value in raw.items():
            name = _normalise_key(key)
            if name not in CONFIG_KEYS:
                raise UsageError(
                    f"config file {str(candidate)!r}: unknown key {key!r} (known: {', '.join(sorted(CONFIG_KEYS))})"
                )
            types = CONFIG_KEYS[name]
            if (
                not isinstance(value, types)
                or (isinstance(value, bool) and bool not in types)
                or (isinstance(value, list) and not all(isinstance(item, str) for item in value))
            ):
                wanted = " or ".join(dict.fromkeys(_TYPE_WORDS[t] for t in types if not (t is int and float in types)))
                # a number or true/false as it is; text only by its kind (a store URL may hold a password)
                secret = name in ("password", "token")
                shown = repr(value) if isinstance(value, int | float) and not secret else _kind(value, list in types)
                raise UsageError(f"config file {str(candidate)!r}: {key!r} must be {wanted}, not {shown}")
            config[name] = value
        return config, candidate
    return {}, None


def _warn_if_readable(path: Path, raw: dict[str, Any]) -> None:
    """A password or token in a file other users can read is theirs too."""
    secrets = [key for key in raw if _normalise_key(key) in ("password", "token")]
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if secrets and mode & 0o077:
        log.warning(
            "The config file %s holds a %s and other users can read it (mode %o): chmod 600 %s",
            path, " and a ".join(secrets), mode, path,
        )  # fmt: skip


def others_can_write(path: Path) -> str:
    """How users other than this one (and root) could change the file at ``path``, or '': it is group or
    world writable or theirs, or a directory it is in (as named, or where a link leads) is writable by
    them and not sticky, or theirs."""
    try:
        file = path.stat()
        directories = {path.absolute().parent, path.resolve().parent}
        found = [(directory, directory.stat()) for directory in sorted(directories)]
    except OSError:
        return ""
    trusted = (os.geteuid(), 0)
    ways = []
    if file.st_mode & 0o022 or file.st_uid not in trusted:
        ways.append(f"mode {stat.S_IMODE(file.st_mode):o}, owner uid {file.st_uid}")
    for directory, info in found:
        if (info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX) or info.st_uid not in trusted:
            ways.append(f"its directory {str(directory)!r} too")
    return "; ".join(ways)


def _refuse_if_others_write(path: Path, what: str = "config file") -> None:
    """A config (or ignore) file another user can change decides what is scanned, trusted and reported:
    refused whole (the seed reads ./config by default, wherever the command is run)."""
    if ways := others_can_write(path):
        raise UsageError(
            f"the {what} {str(path)!r} can be written by other users ({ways}): refused; make it and its"
            " directory yours alone (chmod go-w)"
        )


def default_state_dir() -> Path:
    return Path(platformdirs.user_data_dir("tcs-registry"))


@dataclass
class Settings:
    url: str
    scheme: str
    host: str
    path: str
    mode: str = "scan"
    credentials: Credentials = field(default_factory=Credentials)
    project: str = "default"
    token: str | None = field(default=None, repr=False)
    console: str | None = None  # the console the run is sent to (--console), if any
    image_filter: ImageFilter = field(default_factory=lambda: ImageFilter.from_strings(None, None))
    registry_type: str | None = None
    max_images: int | None = None
    verify: bool | str = True
    state_dir: Path = field(default_factory=default_state_dir)
    store: URL = field(default_factory=lambda: store_url(None, default_state_dir()))
    scan_id: str | None = None  # the scan this run is part of (workers of one registry scan share it)
    shard: tuple[int, int] = (1, 1)  # (K, N): this worker takes the K-th of N shares of the images
    output_dir: Path = field(default_factory=Path)
    concurrency: int = DEFAULT_CONCURRENCY
    max_rate: float | None = None  # requests a second to the registry; None: no limit
    timeout: float | None = None  # seconds an answer may take to come (default 60)
    config_path: Path | None = None
    platforms: tuple[str, ...] = ()  # empty: every linux platform of an index
    formats: tuple[str, ...] = ("table",)
    fail_on: str | None = None  # a severity: exit 1 when a finding at or above it exists
    min_coverage: float | None = None  # percent of the admitted images that must be done for exit 0
    plan: Plan | None = None  # --plan: a dry run's report, the images to scan
    plan_follow_tags: bool = False  # a planned tag that moved is scanned at its new digest
    severities: tuple[str, ...] = ()  # the findings shown and failed on (empty: every severity)
    skip_checks: tuple[str, ...] = ()  # config check ids not reported
    secrets: bool = True  # layer files are searched for credentials (--no-secrets: not)
    ignore: IgnoreRules = field(default_factory=IgnoreRules)


def resolve(
    url: str,
    flags: dict[str, Any],
    env: dict[str, str] | None = None,
    docker_credentials: Any = None,
) -> Settings:
    """Combine flags (None = not given), environment and config file into Settings.

    ``docker_credentials`` is a callable host -> Credentials | None, asked last for credentials.
    """
    env = dict(os.environ if env is None else env)
    config, config_path = load_config(flags.get("config"))
    pick = picker(flags, env, config)

    scheme, host, path = parse_registry_url(url)
    normalised = f"{scheme}://{host}{path}"

    mode = (pick("mode")[0] or "scan").strip().lower()
    if mode not in MODES:
        raise UsageError(f"unknown --mode {mode!r}: use scan or dry-run")

    username, user_source = pick("username")
    password, password_source = pick("password")
    if password is not None and not str(password):  # the flags' are refused before; an empty variable is unset
        raise UsageError(f"the config file {str(config_path)!r} has an empty password: give it, or leave it out")
    if username is not None and password is None:
        raise UsageError("--username needs a password: --password, --password-stdin or TCS_REGISTRY_PASSWORD")
    if username is not None or password is not None:
        source = user_source if username is not None else password_source
        if flags.get("password_stdin"):  # (the user name may come from elsewhere)
            source = "stdin" if source == "flag" else f"stdin+{user_source}"
        credentials = Credentials(username or None, password, source=source)
    else:
        credentials = (docker_credentials(host) if docker_credentials else None) or Credentials()

    max_images, origin = pick("max_images")
    if max_images is not None and (isinstance(max_images, bool) or int(max_images) < 0):
        raise UsageError(f"{named('max_images', origin)} must be 0 or more, not {max_images}")
    concurrency, origin = pick("concurrency")
    concurrency = DEFAULT_CONCURRENCY if concurrency is None else concurrency
    if not 1 <= int(concurrency) <= 256:
        raise UsageError(f"{named('concurrency', origin)} must be between 1 and 256, not {concurrency}")

    max_rate, origin = pick("max_rate")
    max_rate = _bounded(
        max_rate,
        100_000,
        f"{named('max_rate', origin)} must be a number of requests a second from 0.01 to 100,000",
        0.01,
    )  # (a request every 100 s at the least: below that a run of any size never ends)
    timeout, origin = pick("timeout")
    timeout = _bounded(timeout, 3600, f"{named('timeout', origin)} must be a number of seconds over 0 and at most 3600")

    insecure = bool(pick("insecure")[0])
    ca_cert = pick("ca_cert")[0]
    if insecure and ca_cert:
        raise UsageError("--insecure and --ca-cert contradict each other: choose one")
    verify: bool | str = True
    if ca_cert:
        ca_path = Path(ca_cert).expanduser()
        if not ca_path.is_file():
            raise UsageError(f"--ca-cert {str(ca_path)!r} does not exist or is not a file")
        try:
            ssl.create_default_context(cafile=str(ca_path))
        except (ssl.SSLError, OSError, ValueError):
            raise UsageError(
                f"--ca-cert {str(ca_path)!r} holds no certificate: give the CA's certificate in PEM"
                " (-----BEGIN CERTIFICATE-----)"
            ) from None
        verify = str(ca_path)
    elif insecure:
        verify = False

    project, origin = pick("project")
    project = (project or "default").strip()
    if not project:
        raise UsageError(f"{named('project', origin)} must not be empty")
    state_dir = Path(pick("state_dir")[0] or default_state_dir()).expanduser()
    output_dir = pick("output_dir")[0]
    scan_id, origin = pick("scan_id")
    if scan_id is not None and not _SCAN_ID.match(str(scan_id)):
        raise UsageError(
            f"{named('scan_id', origin)} {scan_id!r}: use 1 to 100 letters, digits and . _ : / - (e.g. the CI run id)"
        )
    if scan_id is not None and is_own_scan(str(scan_id)):  # "run-<id>": a run's own scan, when it has none
        raise UsageError(
            f"{named('scan_id', origin)} {scan_id!r}: names starting with run- are kept for runs without a scan id"
        )
    platforms = _listed(*pick("platform"), "platform")
    for platform in platforms:
        if not _PLATFORM.match(platform):
            raise UsageError(f"--platform {platform!r} is not os/architecture[/variant], e.g. linux/arm64")
    formats = _listed(*pick("format"), "format") or ("table",)
    for name in formats:
        if name not in FORMATS:
            raise UsageError(f"unknown --format {name!r}: use {', '.join(FORMATS)} (several with commas)")
    fail_on = pick("fail_on")[0]
    if fail_on is not None and str(fail_on).strip().lower() not in FAIL_ON:
        raise UsageError(f"unknown --fail-on {fail_on!r}: use {', '.join(FAIL_ON)}")
    min_coverage = _percent(pick("min_coverage")[0])
    plan = read_plan(Path(flags["plan"]).expanduser(), host) if flags.get("plan") else None
    if plan is not None and mode != "scan":
        raise UsageError("--plan scans the images a dry run's report lists: use it with --mode=scan")
    if flags.get("plan_follow_tags") and plan is None:
        raise UsageError("--plan-follow-tags goes with --plan REPORT.csv")
    severities = tuple(level.upper() for level in _listed(*pick("severity"), "severity"))
    for level in severities:
        if level not in LEVELS:
            raise UsageError(f"unknown --severity {level.lower()!r}: use {', '.join(reversed(LEVELS))} (with commas)")
    skip_checks = tuple(check.upper() for check in _listed(*pick("skip_checks"), "skip_checks"))
    for check in skip_checks:
        if check.startswith("TCS-") and check not in CHECK_IDS + SECRET_CHECK_IDS:
            raise UsageError(
                f"unknown --skip-checks {check!r}: the built-in checks are {', '.join(CHECK_IDS)}"
                f" and the secret rules {SECRET_PREFIX}<RULE> ({SECRET_PREFIX}AWS-ACCESS-KEY-ID; `--no-secrets`: none)"
            )
    ignore = ignore_rules(pick("ignore_file")[0], config_path, host)
    # (after the checks of their values: a bad one is its error alone, not a warning and an error)
    given = [
        n
        for n in ("format", "fail_on", "severity", "skip_checks", "ignore_file", "secrets")
        if flags.get(n) is not None
    ]
    scan_only = ["--no-secrets" if flags[n] is False else named(n, "flag") for n in given]
    if scan_only and mode == "dry-run":  # (a config file's may be there for scans: not warned about)
        does = "does" if len(scan_only) == 1 else "do"
        log.warning("%s %s nothing in a dry run: no image is scanned, nothing is found", ", ".join(scan_only), does)
    token, (console, origin) = pick("token")[0], pick("console")
    if console:
        console = console_url(str(console), named("console", origin))
        if not token:
            raise UsageError("--console needs a token of the project: --token or TCS_TOKEN (console token create)")
    shard = _shard(pick("shard")[0], pick("shards")[0], env)
    if shard[1] > 1 and scan_id is None:  # else each worker would be a scan of its own, and results a share
        raise UsageError("--shard and --shards need --scan-id (or TCS_SCAN_ID), the same for every worker")
    if shard[1] > 1 and max_images is not None:
        raise UsageError("--max-images cannot be shared out between shards: leave it out, or run one worker")
    return Settings(
        url=normalised,
        scheme=scheme,
        host=host,
        path=path,
        mode=mode,
        credentials=credentials,
        project=project,
        token=token,
        console=console,
        image_filter=ImageFilter.from_strings(pick("allow_list")[0], pick("deny_list")[0], host),
        registry_type=pick("registry_type")[0],
        max_images=int(max_images) if max_images is not None else None,
        verify=verify,
        state_dir=state_dir,
        store=store_url(pick("store")[0], state_dir, named("store", pick("store")[1])),
        scan_id=scan_id,
        shard=shard,
        output_dir=Path(output_dir).expanduser().absolute() if output_dir else Path.cwd(),  # (as the store keeps it)
        concurrency=int(concurrency),
        max_rate=max_rate,
        timeout=timeout,
        config_path=config_path,
        platforms=platforms,
        formats=formats,
        fail_on=str(fail_on).strip().upper() if fail_on is not None else None,
        min_coverage=min_coverage,
        plan=plan,
        plan_follow_tags=bool(flags.get("plan_follow_tags")),
        severities=severities,
        skip_checks=skip_checks,
        secrets=pick("secrets")[0] is not False,
        ignore=ignore,
    )


def _shard(shard: str | None, shards: int | str | None, env: dict[str, str]) -> tuple[int, int]:
    """(K, N) from --shard K/N, or from --shards N and Kubernetes' JOB_COMPLETION_INDEX (K - 1)."""
    if shard is not None and shards is not None:
        raise UsageError("--shard K/N and --shards N contradict each other: choose one")
    if shard is not None:
        match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", str(shard))
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise UsageError(f"--shard {shard!r} is not K/N with K from 1 to N, e.g. 2/4")
        return int(match[1]), int(match[2])
    if shards is None:
        return 1, 1
    if not str(shards).strip().isdigit() or not 1 <= int(shards) <= 999_999:
        raise UsageError(f"--shards must be a number of workers from 1, not {shards!r}")
    index = env.get("JOB_COMPLETION_INDEX", "")
    if not index.strip().isdigit() or int(index) >= int(shards):
        raise UsageError(
            f"--shards {shards} takes this worker's share from JOB_COMPLETION_INDEX (0 to {int(shards) - 1}), "
            f"which is {index!r}: run it in a Kubernetes Indexed Job, or use --shard K/N"
        )
    return int(index) + 1, int(shards)


def _percent(value: Any) -> float | None:
    """--min-coverage: a percentage from 0 to 100 (``95``, ``99.5``, ``95%``); None if unset."""
    if value is None:
        return None
    try:
        number = float(str(value).strip().removesuffix("%")) if not isinstance(value, bool) else -1.0
    except ValueError:
        number = -1.0
    if not 0 <= number <= 100:  # (NaN too)
        raise UsageError(f"--min-coverage must be a percentage from 0 to 100 (e.g. 95), not {value}")
    return number


def _bounded(value: Any, limit: float, message: str, least: float | None = None) -> float | None:
    """A number above 0 (or at least ``least``) and at most ``limit`` from a flag, the environment or the
    config; None if unset."""
    if value is None:
        return None
    try:
        number = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        number = -1.0
    if not (number >= least if least is not None else number > 0) or not number <= limit:
        raise UsageError(f"{message}, not {value}")
    return number


def _listed(value: str | list[str] | None, origin: str = "", name: str = "") -> tuple[str, ...]:
    """A comma-separated flag or a config list, lowercased, without blanks or repeats. A flag given empty
    (``--platform=$PLATFORM``, the variable unset): refused, not taken as not given (a config file's
    ``platform = ""`` is its default, as it always was)."""
    items = value if isinstance(value, list) else (value or "").split(",")
    listed = tuple(dict.fromkeys(str(item).strip().lower() for item in items if str(item).strip()))
    if name and value is not None and not listed and origin == "flag":
        raise UsageError(f"{named(name, origin)} is empty: leave it out, or name what it is for")
    return listed


def ignore_rules(ignore_file: str | None, config_path: Path | None, host: str) -> IgnoreRules:
    """The ignore rules in effect: --ignore-file's, else the .tcsignore beside the config file in effect
    (else in the working directory), if there is one."""
    default = (config_path.parent if config_path else Path()) / IGNORE_FILENAME
    if not ignore_file and default.is_file():  # (read by default: it hides findings)
        _refuse_if_others_write(default, "ignore file")
    return IgnoreRules.load(
        Path(ignore_file).expanduser() if ignore_file else default, required=bool(ignore_file), host=host
    )


def resolve_store(flags: dict[str, Any], env: dict[str, str] | None = None) -> tuple[str, Path, URL]:
    """(project, state directory, store) for the commands that only read, with the same precedence."""
    pick = picker(flags, dict(os.environ if env is None else env), load_config(flags.get("config"))[0])
    project = (pick("project")[0] or "default").strip()
    state_dir = Path(pick("state_dir")[0] or default_state_dir()).expanduser()
    store, origin = pick("store")
    return project, state_dir, store_url(store, state_dir, named("store", origin))


def picker(flags: dict[str, Any], env: dict[str, str], config: dict[str, Any]) -> Callable[[str], tuple[Any, str]]:
    """A setting's value and where it came from: a flag, else its environment variable, else the config
    file ("flag", "env", "config"; else None, "default")."""

    def pick(name: str) -> tuple[Any, str]:
        if flags.get(name) is not None:
            return flags[name], "flag"
        if name in ENV and env.get(ENV[name]):
            return env[ENV[name]], "env"
        if config.get(name) is not None:
            return config[name], "config"
        return None, "default"

    return pick
