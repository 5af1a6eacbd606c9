"""The command line: ``tcs-registry registry <url>`` and ``tcs-registry plugins``."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pluggy
from click.shell_completion import CompletionItem

from . import __version__, logs
from .choices import FAIL_ON, FORMATS, MODES
from .errors import EXIT_REGISTRY, EXIT_USAGE, TcsError, UsageError
from .plugins import describe_plugins, get_plugin_manager
from .report import plural
from .signals import Terminated, stopped_by_signals
from .terminal import table
from .vulns.severity import LEVELS

# The commands import what they run when they run: --help and shell completion (a process a Tab) stay quick.
if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger("tcs_registry")
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process it ended
EXIT_PIPE = 141  # 128 + SIGPIPE: standard output's reader went away (`| head`), as a shell reports it


class Stopped(BaseException):
    """Ctrl-C or SIGTERM (its cause) on its way out of click, which would write an empty line for it
    (one that is no JSON object with --log-format json) and turn it into Abort."""


# click 8.2 on raises a command group's help, asked by giving it nothing, as a usage error (8.1 prints it)
NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class OutputClosed(BaseException):
    """Standard output closed under a write (EPIPE), on its way out of click, which would exit with 1:
    the code of findings at --fail-on."""


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise Stopped from exc
        except BrokenPipeError as exc:
            raise OutputClosed from exc


PluginManagerFactory = Callable[[], pluggy.PluginManager]


def completing(values: Callable[[], Sequence[str]]) -> Callable[..., list[CompletionItem]]:
    """Shell completion of an option's values (the last of a comma-separated list); the values are
    checked where the flag, the environment and the config file meet, so the option stays a string."""

    def complete(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        done, _, last = incomplete.rpartition(",")
        prefix = f"{done}," if done else ""
        chosen = done.split(",")
        return [CompletionItem(prefix + v) for v in values() if v.startswith(last) and v not in chosen]

    return complete


def build_cli(plugin_manager: pluggy.PluginManager | PluginManagerFactory | None = None) -> click.Group:
    """The click group; tests pass their own plugin manager, the console script loads the installed ones."""

    def get_pm() -> pluggy.PluginManager:
        if isinstance(plugin_manager, pluggy.PluginManager):
            return plugin_manager
        return (plugin_manager or get_plugin_manager)()

    @click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="tcs-registry")
    def cli() -> None:
        """Scan whole container registries for vulnerabilities and misconfigurations.

        \b
        Examples:
          tcs-registry registry https://registry.example.com --username robot --password-stdin < token
          tcs-registry results --image team/app:1.0
          tcs-registry plugins

        \b
        Shell completion (bash; zsh and fish likewise):
          eval "$(_TCS_REGISTRY_COMPLETE=bash_source tcs-registry)"
        """

    @cli.command("registry")
    @click.argument("registry_url")
    @click.option(
        "--username", help="Registry user (robot account, service principal id...). Env: TCS_REGISTRY_USERNAME."
    )
    @click.option("--password", help="Registry password or token. Env: TCS_REGISTRY_PASSWORD.")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    @click.option("--project", help="Project the results belong to (default 'default'). Env: TCS_PROJECT_ID.")
    @click.option("--token", help="The console's token of the project (role submit). Env: TCS_TOKEN.")
    @click.option(
        "--console", "console", help="Send the run to this console as it goes (with --token). Env: TCS_CONSOLE_URL."
    )
    @click.option("--config", "config", help="TOML config file (default ./config, then ~/.accurics/config).")
    @click.option(
        "--allowList", "--allowlist", "allow_list", help="Comma-separated image patterns to scan (default '*')."
    )
    @click.option(
        "--denyList", "--denylist", "deny_list", help="Comma-separated image patterns to skip; wins over --allowList."
    )
    @click.option(
        "--mode",
        help="scan (default) or dry-run (discovery and a CSV report only).",
        shell_complete=completing(lambda: MODES),
    )
    @click.option(
        "--registry-type",
        help="Use this registry type's plugin instead of guessing (see `tcs-registry plugins`).",
        shell_complete=completing(
            lambda: sorted({t for info in describe_plugins(get_pm()) for t in info.registry_types})
        ),
    )
    @click.option(
        "--max-images", type=int, help="Process at most this many admitted images; the rest are reported as skipped."
    )
    @click.option("--insecure", is_flag=True, default=None, help="Do not verify the registry's TLS certificate.")
    @click.option("--ca-cert", help="CA bundle (PEM) that signs the registry's certificate.")
    @click.option(
        "--state-dir",
        help="Where the default store and the vulnerability database live (default: the user's data directory).",
    )
    @click.option(
        "--store",
        help="The store: postgresql://user@host:5432/db (a team's) or sqlite:////path/state.db. Env: TCS_STORE_URL.",
    )
    @click.option(
        "--scan-id", "scan_id", help="The scan this run is part of; workers of one scan share it. Env: TCS_SCAN_ID."
    )
    @click.option("--shard", help="Take the K-th of N shares of the images (K/N, e.g. 2/4); list the whole registry.")
    @click.option("--shards", help="N shares; K is Kubernetes' JOB_COMPLETION_INDEX + 1 (an Indexed Job).")
    @click.option("--output-dir", help="Where reports are written (default: the current directory).")
    @click.option(
        "--concurrency",
        type=int,
        help="At most this many requests to the registry waiting for their answer at once (default 64); how many "
        "is measured as it goes.",
    )
    @click.option(
        "--max-rate", "max_rate", help="At most this many requests a second to the registry (default: no limit)."
    )
    @click.option(
        "--timeout",
        help="Seconds an answer of the registry may take to come, in all, before it is asked again; three times in "
        "all, a 5xx that took half of it or more counted with them (default 60).",
    )
    @click.option(
        "--platform",
        help="Platforms of multi-arch images to scan, comma-separated (e.g. linux/arm64); default every linux one.",
    )
    @click.option(
        "--format",
        "format",
        help="Scan results: table (default), json, sarif, cyclonedx; several with commas. Files go to --output-dir.",
        shell_complete=completing(lambda: FORMATS),
    )
    @click.option(
        "--fail-on",
        "fail_on",
        help="Exit 1 if a vulnerability or violation at or above this severity is found: low, medium, high, critical.",
        shell_complete=completing(lambda: FAIL_ON),
    )
    @click.option(
        "--plan", help="Scan exactly the images a dry run's report (CSV) lists as not skipped, at its digests."
    )
    @click.option(
        "--plan-follow-tags",
        "plan_follow_tags",
        is_flag=True,
        default=None,
        help="With --plan: scan a tag that moved since the plan at its new digest (default: a failure).",
    )
    @click.option(
        "--min-coverage",
        "min_coverage",
        help="Exit 0 despite failed images when at least this percentage of the admitted images was done (e.g. 95).",
    )
    @click.option(
        "--severity",
        help="Show and fail on only these severities, comma-separated (e.g. high,critical); the store keeps all.",
        shell_complete=completing(lambda: [level.lower() for level in reversed(LEVELS)]),
    )
    @click.option(
        "--secrets/--no-secrets",
        default=None,
        help="Search the layers' text files for credentials (default) or not; values are never shown.",
    )
    @click.option("--skip-checks", "skip_checks", help="Config check ids not to report, comma-separated (TCS-CFG-004).")
    @click.option(
        "--ignore-file",
        "ignore_file",
        help="Ignore rules (TOML, [[ignore]] tables); default .tcsignore beside the config file, else here.",
    )
    @click.option("-v", "--verbose", count=True, help="More log lines (-v: debug).")
    @click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
    @click.option(
        "--log-format",
        type=click.Choice(logs.FORMATS),
        default="tab",
        envvar="TCS_LOG_FORMAT",
        help="Log lines: tab (time<TAB>level<TAB>message, default) or json (an object a line). Env: TCS_LOG_FORMAT.",
    )
    def registry(
        registry_url: str, password_stdin: bool, verbose: int, quiet: bool, log_format: str, **flags: Any
    ) -> None:
        """Discover, describe and scan every image of the registry at REGISTRY_URL.

        \b
        Examples:
          tcs-registry registry localhost:5000 --mode=dry-run
          tcs-registry registry https://harbor.example.com/library --username 'robot$ci' --password-stdin < token
          tcs-registry registry https://registry.example.com --allowList='team/*' --format=table,sarif
          tcs-registry registry registry.example.com --fail-on=high --format=json,cyclonedx
          tcs-registry registry 123456789012.dkr.ecr.eu-west-1.amazonaws.com --platform=linux/arm64
        """
        logs.setup(-1 if quiet else verbose, log_format)
        if password_stdin:
            if flags.get("password") is not None:
                raise UsageError("--password and --password-stdin contradict each other: choose one")
            flags["password"] = sys.stdin.read().rstrip("\r\n")
            flags["password_stdin"] = True  # (named so in errors)
            if not flags["password"]:
                raise UsageError("--password-stdin read an empty password: pipe the password or token in")
        if flags.get("password") == "":
            raise UsageError("--password is empty: give the password or token, or leave both out to go anonymous")
        if flags.get("password") is not None and not password_stdin:
            log.warning(
                "A password on the command line is visible to other users (ps) and stays in shell history: "
                "prefer --password-stdin or TCS_REGISTRY_PASSWORD"
            )
        import urllib3

        from .discovery import Discovery
        from .dockerconfig import docker_credentials
        from .settings import resolve

        logs.redact(flags.get("password"), flags.get("token"))
        settings = resolve(registry_url, flags, docker_credentials=docker_credentials)
        logs.redact(settings.credentials.password, settings.token)
        if settings.verify is False:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            if settings.scheme == "https":
                log.warning("TLS verification is disabled (--insecure): the registry's identity is not checked")
            else:  # (its token service may still be HTTPS)
                log.warning("TLS verification is disabled (--insecure) for the HTTPS services the registry names")
        pm = get_pm()
        sys.exit(Discovery(pm, settings).run(sys.stdout))

    @cli.group("results", invoke_without_command=True)
    @click.option("--project", help="Project whose results to show (default 'default'). Env: TCS_PROJECT_ID.")
    @click.option(
        "--run", "run", type=int, help="A run id: the scan it is part of, whole (default: the latest scan of images)."
    )
    @click.option("--image", help="One image: [host/]repository[:tag][@os/arch]. Shows its packages.")
    @click.option(
        "--format",
        "output_format",
        type=click.Choice(["table", "json", "sarif", "cyclonedx"]),
        default="table",
        show_default=True,
        help="cyclonedx needs --image; sarif without it is the scan's registry, one run (GitHub code scanning).",
    )
    @click.option(
        "--changes",
        "only_changes",
        is_flag=True,
        help="Only what changed since each image's previous scan (in whatever run it was last scanned).",
    )
    @click.option("--since", type=int, help="With --changes: compare with this run's scan instead.")
    @click.option(
        "--by-layer",
        "layers",
        is_flag=True,
        help="The layers shared by several images that bring them vulnerabilities, the most findings first.",
    )
    @click.option("--state-dir", help="Where the default store lives (default: the user's data directory).")
    @click.option("--store", help="The store: postgresql://... or sqlite:////path/state.db. Env: TCS_STORE_URL.")
    @click.option("--config", "config", help="TOML config file (default ./config, then ~/.accurics/config).")
    @click.pass_context
    def results(
        ctx: click.Context,
        run: int | None,
        image: str | None,
        output_format: str,
        only_changes: bool,
        since: int | None,
        layers: bool,
        **flags: Any,
    ) -> None:
        """Show past runs of a project, what they found, and what changed since each image's previous scan.

        \b
        Examples:
          tcs-registry results
          tcs-registry results --changes --format json
          tcs-registry results --changes --since 12
          tcs-registry results --by-layer
          tcs-registry results --image team/app:1.0 --format cyclonedx > app.cdx.json
          tcs-registry results push
        """
        if ctx.invoked_subcommand is not None:
            return
        from .results import show as show_results
        from .settings import resolve_store

        project, _, url = resolve_store(flags)
        store = existing_store(url)
        try:
            if (only_changes or since is not None) and image:
                raise UsageError("--changes covers the whole run: leave out --image")
            if layers and (image or only_changes or since is not None):
                raise UsageError("--by-layer covers the whole scan: leave out --image, --changes and --since")
            show_results(store, project, run, image, output_format, sys.stdout, only_changes, since, layers)
        finally:
            store.close()

    @cli.command("rematch")
    @click.option("--project", help="Project whose scans to match again (default 'default'). Env: TCS_PROJECT_ID.")
    @click.option("--state-dir", help="Where the store and the vulnerability database live (default: the user's).")
    @click.option("--store", help="The store: postgresql://... or sqlite:////path/state.db. Env: TCS_STORE_URL.")
    @click.option("--ignore-file", "ignore_file", help="Ignore rules (default: .tcsignore beside the config file).")
    @click.option("--config", "config", help="TOML config file (default ./config, then ~/.accurics/config).")
    def rematch_command(ignore_file: str | None, **flags: Any) -> None:
        """Match the packages of each registry's latest scan against the vulnerability database as it is
        now, without pulling anything; each registry's result is a run (see results --changes).

        \b
        Examples:
          tcs-registry db update && tcs-registry rematch
          tcs-registry rematch --project payments && tcs-registry results --changes
        """
        from .rematch import rematch
        from .settings import load_config, resolve_store

        project, state_dir, url = resolve_store(flags)
        store = existing_store(url)
        try:
            config, config_path = load_config(flags.get("config"))
            ignore_file = ignore_file or config.get("ignore_file")  # (as a scan takes it)
            rematch(store, project, state_dir, sys.stdout, ignore_file=ignore_file, config_path=config_path)
        finally:
            store.close()

    @cli.group("db")
    def db() -> None:
        """The offline vulnerability database (OSV records, in the state directory).

        \b
        Examples:
          tcs-registry db update --ecosystem Debian,PyPI
          tcs-registry db import ~/Downloads/Alpine-all.zip ./advisories/
          tcs-registry db status
        """

    state_dir_option = click.option(
        "--state-dir", help="Where the state store and the database live (default: the user's data directory)."
    )

    @db.command("import")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
    @state_dir_option
    @click.option("--config", "config", help="TOML config file (default ./config, then ~/.accurics/config).")
    def db_import(paths: tuple[Path, ...], **flags: Any) -> None:
        """Import OSV records: JSON files, directories of them, or the per-ecosystem all.zip archives."""
        from .settings import resolve_store
        from .vulns.database import VulnDatabase

        database = VulnDatabase(resolve_store(flags)[1])
        try:
            added, unchanged, problems = database.import_paths(paths)
            for problem in problems:
                log.warning("Skipped %s", problem)
            click.echo(
                f"{plural(added, 'record')} imported, {unchanged:,} already up to date, {len(problems):,} skipped"
            )
        finally:
            database.close()
        if problems and not added and not unchanged:
            raise UsageError("nothing was imported: no readable OSV record in the given paths")

    @db.command("update")
    @click.option(
        "--ecosystem",
        "ecosystems",
        help="Comma-separated OSV ecosystems (default: those already imported, else every one the analysis reports).",
    )
    @click.option("--source", help="The OSV bucket or a mirror of it. Env: TCS_OSV_SOURCE.", default=None)
    @state_dir_option
    @click.option("--config", "config", help="TOML config file (default ./config, then ~/.accurics/config).")
    def db_update(ecosystems: str | None, source: str | None, **flags: Any) -> None:
        """Download OSV data: each ecosystem's all.zip, or only the records changed since the last update."""
        from urllib.parse import urlsplit

        from .redaction import shown_url
        from .settings import resolve_store
        from .vulns.database import BUCKET, DEFAULT_ECOSYSTEMS, VulnDatabase

        database = VulnDatabase(resolve_store(flags)[1])
        try:
            chosen = [e.strip() for e in (ecosystems or "").split(",") if e.strip()]
            chosen = (
                chosen or [s.ecosystem for s in database.status() if s.origin != "import"] or list(DEFAULT_ECOSYSTEMS)
            )
            origin = source or os.environ.get("TCS_OSV_SOURCE") or BUCKET
            try:
                parts = urlsplit(origin)
                usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
            except ValueError:  # (a port that is no number, a broken IPv6 host)
                usable = False
            if not usable:
                raise UsageError(
                    f"{'--source' if source else 'TCS_OSV_SOURCE'} {shown_url(origin)!r}: use the http(s) URL of the"
                    " OSV bucket or of a mirror of it (files and directories: tcs-registry db import PATH)"
                )

            @contextmanager
            def progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
                if total is None:  # no size to measure against: say what is being fetched
                    log.info("Downloading %s", label)
                    yield lambda n: None
                    return
                with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
                    yield bar.update

            for ecosystem, how, count in database.update(chosen, origin, progress):
                log.info("Updated OSV ecosystem=%s how=%s records=%d", ecosystem, how, count)
        finally:
            database.close()

    @db.command("status")
    @state_dir_option
    @click.option("--config", "config", help="TOML config file (default ./config, then ~/.accurics/config).")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
    def db_status(as_json: bool, **flags: Any) -> None:
        """Ecosystems in the database, their record counts and age."""
        from .settings import resolve_store
        from .vulns.database import FILENAME as DB_FILENAME
        from .vulns.database import VulnDatabase

        state_dir = resolve_store(flags)[1]
        empty = TcsError(
            f"no vulnerability database in {str(state_dir)!r}: run `tcs-registry db update` or `db import`"
        )
        if not (state_dir / DB_FILENAME).is_file():
            raise empty
        database = VulnDatabase(state_dir)
        try:
            rows = database.status()
            total, withdrawn, unreadable = database.counts()
        finally:
            database.close()
        if not total:
            raise empty
        if as_json:
            click.echo(json.dumps([row.__dict__ for row in rows], indent=2))
            return
        listed = [(r.ecosystem, r.records, r.newest[:19], r.origin, r.synced_at) for r in rows]
        click.echo(table(listed, headers=["ecosystem", "records", "newest modified", "source", "updated"]))
        click.echo(f"\n{total:,} records in {database.path} ({withdrawn:,} withdrawn, ignored)")
        if unreadable:
            click.echo(
                f"{plural(unreadable, 'record')} {'names versions its' if unreadable == 1 else 'name versions their'}"
                " ecosystem's order cannot read"
                " (a typo such as Alpine's 10.2.22.r0): those range events are skipped, the rest matched"
            )

    store_options = [
        click.option("--state-dir", help="Where the default store lives (default: the user's data directory)."),
        click.option("--store", help="The store: postgresql://... or sqlite:////path/state.db. Env: TCS_STORE_URL."),
        click.option("--config", "config", help="TOML config file (default ./config, then ~/.accurics/config)."),
    ]

    def with_store(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(store_options):
            command = option(command)
        return command

    @contextmanager
    def opened(flags: dict[str, Any]) -> Iterator[Store]:
        from .settings import resolve_store
        from .store import Store

        store = Store(resolve_store(flags)[2])
        try:
            yield store
        finally:
            store.close()

    @cli.group("console")
    def console_group() -> None:
        """The console: a web application over the store, its API, and the tokens that open them.

        \b
        Examples:
          tcs-registry console serve --port 8080
          tcs-registry console token create --project payments --role read
          tcs-registry console token list
        """

    @console_group.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
    @click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
    @click.option("--https", is_flag=True, help="Served over HTTPS (by a reverse proxy): session cookies are Secure.")
    @with_store
    def console_serve(host: str, port: int, https: bool, **flags: Any) -> None:
        """Serve the console's pages and API over the store.

        \b
        Examples:
          tcs-registry console serve
          tcs-registry console serve --host 0.0.0.0 --port 8443 --store postgresql://tcs@db/tcs
        """
        missing = [name for name in ("fastapi", "uvicorn", "jinja2", "multipart") if find_spec(name) is None]
        if missing:
            raise UsageError("the console needs its web stack: pip install 'tcs-registry[console]'")
        import uvicorn

        from .console import local
        from .console.app import create_app

        logs.setup(0, "tab")
        from .settings import resolve_store

        state_dir = resolve_store(flags)[1]
        with opened(flags) as store:
            app = create_app(store, https=https)
            config = uvicorn.Config(app, host=host, port=port, log_level="warning", server_header=False)
            server = uvicorn.Server(config)
            listening = listen(host, port)  # (ours: an address in use is one line, not uvicorn's)
            if not store.projects():  # (a --state-dir mistyped, or a console started before any scan)
                log.warning("No scan in the store %s yet: the console shows what scans write there", store.where)
            if host not in ("127.0.0.1", "localhost", "::1"):
                log.warning(
                    "The console listens on %s: serve it behind TLS (a reverse proxy) beyond this machine",
                    host or "every interface",
                )
            original = server.startup

            marker: list[local.Marker] = []

            async def startup(sockets: Any = None) -> None:
                await original(sockets)
                bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
                shown_host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - what to link to
                shown_host = f"[{shown_host}]" if ":" in shown_host else shown_host
                url = f"http://{shown_host}:{bound}"
                marker.append(local.announce(state_dir, url, store.where))  # scans of this store link here
                log.info("Console at %s/ store=%s", url, store.where)

            closing = server.shutdown

            async def shutdown(sockets: Any = None) -> None:  # (uvicorn raises SIGTERM again once shut down)
                for announced in marker:
                    announced.withdraw()
                await closing(sockets)

            server.startup, server.shutdown = startup, shutdown  # type: ignore[method-assign]
            try:
                server.run(sockets=listening)
            except KeyboardInterrupt:  # Ctrl-C, SIGTERM: how a server is stopped, once it has shut down
                pass
            finally:
                for one in listening:
                    one.close()
                for announced in marker:
                    announced.withdraw()
            log.info("Console stopped")

    @console_group.group("token")
    def console_token() -> None:
        """API and login tokens of a project: create (shown once), list, revoke.

        \b
        Examples:
          tcs-registry console token create --project payments --role submit --name ci
          tcs-registry console token revoke 3
        """

    @console_token.command("create")
    @click.option("--project", required=True, help="The project the token opens.")
    @click.option(
        "--role",
        required=True,
        type=click.Choice(["submit", "read", "admin"]),
        help="submit: send scans; read: see findings; admin: see them and manage the project's tokens.",
    )
    @click.option("--name", default="", help="What the token is for (shown by list).")
    @with_store
    def token_create(project: str, role: str, name: str, **flags: Any) -> None:
        """Make a token; it is printed once, alone on the last line, and only its hash is kept.

        \b
        Examples:
          tcs-registry console token create --project payments --role read
        """
        from .console import tokens

        with opened(flags) as store:
            token_id, secret = tokens.create(store, project, role, name)
        click.echo(f"Token {token_id} of project {project!r}, role {role}; it is shown this once:")
        click.echo(secret)

    @console_token.command("list")
    @click.option("--project", help="Only this project's tokens.")
    @with_store
    def token_list(project: str | None, **flags: Any) -> None:
        """The tokens (never their secrets).

        \b
        Examples:
          tcs-registry console token list --project payments
        """
        with opened(flags) as store:
            rows = store.list_tokens(project)
        listed = [
            (r["id"], r["project"], r["role"], r["name"], r["created_at"][:19], (r["revoked_at"] or "")[:19])
            for r in rows
        ]
        click.echo(table(listed, headers=["id", "project", "role", "name", "created", "revoked"]))

    @console_token.command("revoke")
    @click.argument("token_id", type=int)
    @with_store
    def token_revoke(token_id: int, **flags: Any) -> None:
        """Revoke a token: it opens nothing from now on.

        \b
        Examples:
          tcs-registry console token revoke 3
        """
        with opened(flags) as store:
            if not store.revoke_token(token_id):
                raise UsageError(f"no token {token_id} that is not revoked already; `console token list` shows them")
        click.echo(f"Token {token_id} revoked")

    @results.command("push")
    @click.option("--run", "run", type=int, help="A run to send (default: each run the console did not get).")
    @click.option("--console", "console", help="The console (default: the one each run was for). Env: TCS_CONSOLE_URL.")
    @click.option("--token", help="The console's token of the project (role submit). Env: TCS_TOKEN.")
    @click.option("--project", help="The run's project (default 'default'). Env: TCS_PROJECT_ID.")
    @with_store
    def results_push(run: int | None, console: str | None, token: str | None, **flags: Any) -> None:
        """Send runs to the console: those it could not be sent as they ran, or one named with --run.
        Sending one again changes nothing there.

        \b
        Examples:
          tcs-registry results push
          tcs-registry results push --run 12 --console https://console.example.com --token "$TCS_TOKEN"
        """
        logs.setup(0, "tab")
        from .settings import load_config, named, picker, resolve_store
        from .submit import Console, console_url, forget_unsent, push, unsent

        project, state_dir, _ = resolve_store(flags)
        pick = picker(
            {**flags, "token": token, "console": console}, dict(os.environ), load_config(flags.get("config"))[0]
        )
        token = pick("token")[0]
        if not token:
            raise UsageError("results push needs a token of the project: --token or TCS_TOKEN")
        console, origin = pick("console")
        entries = unsent(state_dir) if run is None else [{"run": run, "console": console, "project": project}]
        if not entries:
            click.echo("Nothing to send: the console has every run")
            return
        sent, failed = set(), []
        with opened(flags) as store:
            for entry in entries:  # each on its own: one that fails does not hold back the others
                where = (
                    console_url(str(console), named("console", origin))
                    if console
                    else console_url(str(entry.get("console") or ""), f"the console of run {entry['run']}")
                )
                runs_console = Console(where, token, str(entry.get("project") or project))
                try:
                    sent_to = push(store, state_dir, entry["run"], runs_console)
                except ConnectionError as exc:
                    log.error("Run %d not sent: %s", entry["run"], exc)
                    failed.append(entry["run"])
                    continue
                finally:
                    runs_console.close()
                sent.add(entry["run"])
                click.echo(f"Run {entry['run']} sent to {where}: run {sent_to} there")
        forget_unsent(state_dir, sent)
        if failed:  # (a run named with --run is not in the queue of unsent runs: the same command again)
            again = "run the same command again" if run is not None else "run `tcs-registry results push` again"
            which = f"run {failed[0]}" if len(failed) == 1 else f"{len(failed):,} of {len(entries):,} runs"
            raise TcsError(f"{which} not sent; {again}")

    @cli.command("plugins")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
    def plugins(as_json: bool) -> None:
        """List installed plugins: name, version, registry types, hooks.

        \b
        Examples:
          tcs-registry plugins
          tcs-registry plugins --json
        """
        infos = describe_plugins(get_pm())
        if as_json:
            click.echo(json.dumps([info.__dict__ for info in infos], indent=2))
            return
        rows = [(i.name, i.version, ", ".join(i.registry_types), ", ".join(i.hooks)) for i in infos]
        click.echo(table(rows, headers=["name", "version", "registry types", "hooks"]))

    return cli


def listen(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address ``host`` names (``localhost``: 127.0.0.1 and ::1; "": every
    interface), an IPv6 one for IPv6 alone, as asyncio's own server binds them; or one error line."""
    listening: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(
            socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
        ):
            one = socket.socket(family, kind, proto)
            listening.append(one)
            one.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                one.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            one.bind((address[0], port, *address[2:]))  # (port 0: the free one the first got, on every one)
            one.listen(2048)
            port = port or one.getsockname()[1]
    except (OSError, UnicodeError) as exc:
        for one in listening:
            one.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        shown = f"[{host}]" if ":" in host else host
        raise TcsError(f"the console cannot listen on {shown}:{port}: {reason}") from None
    return listening


def existing_store(url: Any) -> Store:
    """The store the reading commands open: a local one must exist already (a scan makes it)."""
    from .store import Store

    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        where = str(Path(url.database or "").parent)
        raise UsageError(f"no state store in {where!r}: run a scan first, or use --state-dir or --store")
    return Store(url)


def _from_environment(exc: click.exceptions.ClickException) -> str | None:
    """A bad value that came from a variable (TCS_LOG_FORMAT), named as that: click names the flag."""
    param, ctx = getattr(exc, "param", None), getattr(exc, "ctx", None)
    if not isinstance(param, click.Option) or ctx is None or not isinstance(param.envvar, str):
        return None
    if ctx.get_parameter_source(param.name or "") is not click.core.ParameterSource.ENVIRONMENT:
        return None
    return exc.format_message().replace(f"'{param.opts[-1]}'", param.envvar, 1)


def _asked_log_format(args: list[str]) -> str:
    """The log format asked for, read before the arguments are parsed: an error in them is a log line
    in that format too (a collector reads every line)."""
    asked = os.environ.get("TCS_LOG_FORMAT", "tab")
    for flag, value in zip(args, [*args[1:], ""], strict=False):
        if flag == "--":
            break
        if flag.startswith("--log-format="):
            asked = flag.partition("=")[2]
        elif flag == "--log-format":
            asked = value
    return asked if asked in logs.FORMATS else "tab"


def main(argv: Sequence[str] | None = None, plugin_manager: pluggy.PluginManager | None = None) -> int:
    """Console-script entry point: every error is one line and a documented exit code."""
    logs.setup(log_format=_asked_log_format(sys.argv[1:] if argv is None else list(argv)))
    cli = build_cli(plugin_manager)
    try:
        with stopped_by_signals():
            cli.main(args=list(argv) if argv is not None else None, prog_name="tcs-registry", standalone_mode=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    except OutputClosed:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush at exit
        log.error("Standard output was closed before all was written to it (its reader ended)")
        return EXIT_PIPE
    except (Stopped, click.exceptions.Abort, KeyboardInterrupt) as exc:  # click turns Ctrl-C into Abort
        if isinstance(exc, Terminated) or isinstance(exc.__cause__, Terminated):
            log.error("Terminated (SIGTERM): what was done is recorded; run the same command again to continue")
            return EXIT_TERMINATED
        log.error("Interrupted: what was done is recorded; run the same command again to continue")
        return EXIT_INTERRUPTED
    except NO_ARGS_IS_HELP as exc:  # `tcs-registry`, `tcs-registry db`: the help, as asked
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return 0
    except click.exceptions.ClickException as exc:
        log.error("%s", _from_environment(exc) or exc.format_message())
        return EXIT_USAGE if isinstance(exc, click.exceptions.UsageError) else exc.exit_code
    except TcsError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except Exception as exc:  # a bug (ours or a plugin's): one line, the traceback only with -v
        log.error("unexpected error: %s: %s (run with -v for details)", type(exc).__name__, exc, exc_info=True)
        return EXIT_REGISTRY
    return 0


def console() -> None:
    code = main()
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        # The store and the report are closed; do not wait for requests still in flight.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
