"""One run: pick the plugin, log in, list, filter, describe (concurrently), record, report, scan."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, NoReturn, TextIO
from urllib.parse import quote, urlsplit

import pluggy

from .analysis import sbom
from .analysis.inventory import Analyser
from .console.local import find as local_console
from .default_plugins import scanner as default_scanner
from .default_plugins.v2 import TYPE as DEFAULT_TYPE
from .errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    ImageError,
    PluginError,
    QuotaExhausted,
    RegistryError,
    TcsError,
    UsageError,
    failure_code,
)
from .estimate import Estimate
from .http import RegistryClient
from .models import ImageDescription, Platform, Registry, ScanResult
from .oci import MAX_REPOSITORY_NAME, MAX_TAG, attached_tag, format_time, parse_time
from .pacing import Traffic, origin
from .plan import Plan, locate
from .progress import Counts, Progress
from .readahead import WAITING, ReadAhead
from .recorder import Recorder
from .redaction import hide, hide_in_name
from .report import CsvReport, FailureReport, Summary, check_output_dir, plural
from .results import ResultWriter, findings_document, matched_again
from .settings import Settings
from .signals import raise_if_stopped
from .sniffing import HttpProbe, select_registry_type
from .store import Heartbeat, LayerCache, Store, StoreError, own_scan_id, shown
from .submit import Console, Submitter, client_key, console_scan_id, remember_unsent
from .terminal import printable
from .vendor import client_class
from .vulns.database import VulnDatabase
from .vulns.matching import Matcher

log = logging.getLogger("tcs_registry")
CATALOG_WAIT = 0.1  # seconds without a repository name before the tags listed meanwhile are taken on
MAX_TAGS = 100_000  # tags taken from one repository's listing (memory stays bounded whatever it lists)
REUSED_AFTER_HOURS = 6.0  # a scan id whose share finished longer ago is being used again, not retried
SCANS = 8  # images analysed at once, at most: analysis is CPU-bound, and each holds layers in flight
# images under way or waiting for their row, per --concurrency slot: a dry run's, a scan's
LOOK_AHEAD, SCAN_LOOK_AHEAD = 16, 4


class Gone(ImageError):
    """The tag was deleted since it was listed: the image is skipped, not failed."""

    code = "gone"


@dataclass
class Outcome:
    image: ImageDescription
    scan: ScanResult | None = None
    resumed: bool = False  # taken from the run this one resumes, not fetched again


def _hours_since(stamp: str | None) -> float:
    """Hours since a store timestamp (0 if there is none)."""
    when = parse_time(stamp or "")
    return (datetime.now(UTC) - when).total_seconds() / 3600 if when else 0.0


def _reason(exc: Exception) -> str:
    """A registry error says its own message; anything else (a bug) its type too, secrets starred out."""
    return str(exc) if isinstance(exc, TcsError) else hide(f"{type(exc).__name__}: {exc}")


def _log_failure(message: str, subject: str, exc: Exception) -> None:
    """One error line, with the traceback only at debug level."""
    log.error(message + " error=%s", subject, _reason(exc), exc_info=not isinstance(exc, TcsError))


class Discovery:
    """A registry run, from the URL to the summary. `run()` returns the exit code."""

    def __init__(self, pm: pluggy.PluginManager, settings: Settings) -> None:
        self.pm = pm
        self.settings = settings
        self.summary = Summary()
        self.scanners = bool(pm.hook.submit_scan.get_hookimpls())
        self.scanned = 0  # images scanned so far (the progress count: their results may wait to be written)
        self.stopped: str | None = None  # why describing stopped early (a quota), if it did
        self._stopped_by: type[QuotaExhausted] = QuotaExhausted  # (its kind, for the failures left undone)
        self.registry: Registry | None = None
        self.client: RegistryClient | None = None
        self.traffic: Traffic | None = None  # the client's requests: their rate and how many at once
        self.failures: FailureReport | None = None  # set by run(): every failed repository and image, and why
        self.resuming: int | None = None  # the killed or interrupted run this one finishes
        self.unchecked = 0  # resumed images kept not knowing whether their tags moved
        self._finishing: list[int] = []  # it and the runs it resumed in turn (an image it never reached)
        self.plan: Plan | None = None  # --plan: the images to scan, at the digests their dry run saw
        self.planned: list[tuple[str, str]] = []  # of those, this worker's share (--shard)
        self.estimate = Estimate(settings.platforms)  # a dry run: what a scan of its images would cost
        self.resumed = 0
        self.store: Store | None = None
        self.run_id = 0
        self.submitter: Submitter | None = None  # the console the run is sent to, if one is
        self.analyser: Analyser | None = None
        self.matcher: Matcher | None = None
        self.results: ResultWriter | None = None
        self.repositories = 0  # listed so far
        self.tags = 0  # listed so far (the tags lists fetched ahead of the images described)
        # tags dealt with so far: described (and scanned), skipped or failed, as each is (an image waiting out
        # its retries holds up the report rows after it, not the work on them)
        self.finished = 0
        # of the tags listed and of those finished, the ones that cost requests (or a scan): not those left
        # out without a look (what the time left goes by: they are done at once)
        self.work, self.worked = 0, 0
        self.describes_all = False  # (set once connected)
        self.done = 0  # admitted images described (dry run) or scanned: what --min-coverage counts
        self.settled = 0  # images whose row, records or failure are written (an interrupted run's count)
        self.unlisted = False  # the repository listing stopped early: how many images there are is unknown
        self._listing = 0  # tags lists under way
        self._repositories_listed = False  # the repository listing has ended
        self._catalog: ReadAhead[str] | None = None  # the repository names, read ahead of their tags
        self._counting = threading.Lock()
        self._scans = threading.BoundedSemaphore(min(SCANS, settings.concurrency))

    # -- setup -------------------------------------------------------------------------------
    def connect(self) -> None:
        s = self.settings
        probe = HttpProbe(f"{s.scheme}://{s.host}{s.path}", s.verify, timeout=min(10.0, s.timeout or 10.0))
        registry_type = select_registry_type(self.pm, s.url, probe, s.registry_type)
        # (not "identified" as what it is not: the login then says what is wrong with it)
        odd = probe.not_a_registry() if not s.registry_type and registry_type == DEFAULT_TYPE else ""
        if odd and probe.registry_at_root():
            namespace = s.path.strip("/")
            raise UsageError(
                f"the registry's API is at the host's root ({probe.host_root}/v2/), not under /{namespace}: for the"
                f" repositories under {namespace}/, name the host alone and add --allowList='{namespace}/*'"
            )
        if probe.silent:
            log.warning(
                "%s did not answer the probe of its type within %s s: taken as %s (--registry-type skips the probe)",
                s.host, f"{probe.timeout:g}", registry_type,
            )  # fmt: skip
        elif probe.unanswered:  # (not "identified": the login says why it cannot connect)
            log.info("Registry type taken as: %s (no answer to the probe of its type)", registry_type)
        elif odd:
            log.info("Registry type taken as: %s (its /v2/ %s, as no registry does)", registry_type, odd)
        else:
            log.info("Identified registry as: %s", registry_type)
        self.registry = Registry(
            url=s.url,
            scheme=s.scheme,
            host=s.host,
            path=s.path,
            registry_type=registry_type,
            project=s.project,
            verify=s.verify,
            options={
                "concurrency": s.concurrency,
                "max_rate": s.max_rate,
                "timeout": s.timeout,
                "client_class": client_class(self.pm.get_plugins(), registry_type),  # for tcs_registry.log_in
            },
        )
        client = self.pm.hook.authenticate(registry=self.registry, credentials=s.credentials)
        if client is None:
            raise PluginError(f"no installed plugin can log in to a {registry_type} registry")
        self.client = client
        # a dry run describes the images the patterns leave out too, unless the registry counts that
        self.describes_all = s.mode == "dry-run" and getattr(client, "describe_skipped", True)
        self.traffic = getattr(client, "traffic", None)  # an auth plugin's own client may have none
        used = getattr(client, "credentials", s.credentials)  # an auth-override plugin may have brought its own
        log.debug("Authenticated registry=%s credentials=%s", s.url, used.source)

    @property
    def partial(self) -> bool:
        """Something was left out: a failed image or repository, or a quota that stopped the run."""
        summary = self.summary
        return bool(summary.failed or summary.failed_repositories or summary.undone or self.stopped)

    def _connected(self) -> tuple[Registry, RegistryClient]:
        assert self.registry is not None and self.client is not None, "connect() first"
        return self.registry, self.client

    # -- listing -----------------------------------------------------------------------------
    def candidates(self) -> Iterator[tuple[str, str]]:
        """(repository, tag) for every tag of every repository, in listing order; the tags of the next
        repositories are fetched concurrently (a bounded look-ahead); a failing repository is skipped.
        With a plan, its images (this worker's share of them), and nothing is listed."""
        if self.plan is not None:
            yield from self.planned
            return
        hook, (registry, client) = self.pm.hook, self._connected()
        repositories = hook.list_repositories(registry=registry, client=client)
        if repositories is None:
            raise PluginError(f"no installed plugin can list repositories of a {registry.registry_type} registry")
        concurrency = self.settings.concurrency
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="list")
        pending: deque[tuple[str, Future[list[str]]]] = deque()

        def settle() -> Iterator[tuple[str, str]]:
            repository, future = pending.popleft()
            try:
                tags, over = future.result()
            except (PluginError, QuotaExhausted):
                raise
            except Exception as exc:  # a registry error or a plugin bug fails this repository only (and,
                # sharded, this worker's share of it: each worker that could not list it says so)
                self.summary.failed_repositories += 1
                _log_failure("Failed to list tags repository=%s", repository, exc)
                self._record_failure(f"{self.settings.host}/{repository}", "", exc, "plugin-error")
                return
            if over:  # its first tags are scanned; the repository counts as failed: the rest were not seen
                self.summary.failed_repositories += 1
                over_limit = RegistryError(
                    f"over {MAX_TAGS} tags: the first {MAX_TAGS} listed are taken, the rest left out", code="too-large"
                )
                _log_failure("Listing stopped repository=%s", repository, over_limit)
                self._record_failure(f"{self.settings.host}/{repository}", "", over_limit)
            for tag in tags:
                problem = client.name_problem(repository, tag)
                if problem is None:
                    yield repository, tag
                    continue
                self.summary.found += 1  # never asked for: a name off the grammar could point anywhere
                self._one_finished()
                if len(tag) <= MAX_TAG and not self.settings.image_filter.admits(repository, tag):
                    self.summary.skipped += 1  # left out by the patterns anyway: counted, not reported
                else:
                    self.summary.failed += 1
                    self._refuse_name(repository, tag, problem)

        def out_of_quota(exc: QuotaExhausted) -> None:
            self._stop(exc, f"; the listing is incomplete after {plural(self.repositories, 'repository')}")
            self.unlisted = True
            # the listings not begun never run; those done or under way are kept: their tags are counted
            # undone (one that ends with the quota is settled as failed once more, with no new line)
            kept = [(r, f) for r, f in pending if not f.cancel()]
            with self._counting:
                self._listing -= len(pending) - len(kept)
            pending.clear()
            pending.extend(kept)

        self._catalog = catalog = ReadAhead(self._guarded(repositories), name="catalog")
        try:
            try:
                for repository in catalog.waiting(CATALOG_WAIT):
                    raise_if_stopped()
                    if repository is WAITING:  # the catalog is slow: the repositories listed meanwhile go on
                        while pending and pending[0][1].done():
                            yield from settle()
                        continue
                    self.repositories += 1
                    problem = client.name_problem(repository)
                    if problem is not None:
                        if not self._mine(repository, ""):
                            continue
                        if len(repository) > MAX_REPOSITORY_NAME or self.settings.image_filter.may_admit(repository):
                            self.summary.failed_repositories += 1
                            self._refuse_name(repository, "", problem)
                        continue
                    with self._counting:
                        self._listing += 1
                    pending.append((repository, pool.submit(self._tags, repository)))
                    while pending and (len(pending) > 2 * concurrency or pending[0][1].done()):
                        yield from settle()
            except QuotaExhausted as exc:
                out_of_quota(exc)
            except TcsError as exc:
                if self.repositories == 0 or isinstance(exc, PluginError):
                    raise
                self.summary.failed_repositories += 1
                listed = plural(self.repositories, "repository")
                log.error("Repository listing stopped early after %s error=%s", listed, exc)
                self._record_failure("(repository listing)", "", exc, "plugin-error")
                self.unlisted = True
            self._repositories_listed = True
            while pending:  # what was listed is done, an early end of the listing or a stop or not
                try:
                    yield from settle()
                except QuotaExhausted as exc:
                    out_of_quota(exc)
        finally:
            catalog.close()
            pool.shutdown(wait=False, cancel_futures=True)

    def _tags(self, repository: str) -> tuple[list[str], bool]:
        """This worker's share of the repository's tags, sorted (registries list them in any order: a stable
        report) and each once (pages by offset overlap when tags come meanwhile), and whether the listing
        went on past MAX_TAGS (no further page is then asked for)."""
        registry, client = self._connected()
        listed: list[str] = []
        over = whole = False
        # what a vendor's listing said of each tag waits in a bounded cache for its image to be described:
        # the tags that will not be (another worker's share, left out at a look) give their place up at once
        kept = getattr(client, "listed", None)
        try:
            tags = self.pm.hook.list_tags(registry=registry, client=client, repository=repository)
            if tags is None:
                raise PluginError(f"no installed plugin can list tags of a {registry.registry_type} registry")
            for count, tag in enumerate(tags):
                if count == MAX_TAGS:
                    over = True
                    break
                tag = str(tag)[: MAX_TAG + 1]  # (a longer name is off the grammar all the same: kept short)
                if self._mine(repository, tag):
                    listed.append(tag)
                elif kept is not None:
                    kept.pop((repository, tag))
            listed = sorted(set(listed))
            described = [tag for tag in listed if self._costs(repository, tag)]
            for tag in set(listed).difference(described) if kept is not None else ():
                kept.pop((repository, tag))
            work = len(described)
            # read ahead only what will surely be described: not with --max-images (which of them is known
            # only in listing order), nor when resuming (the images done are not read again) or stopped
            surely = self.settings.max_images is None and not self.resuming and self.stopped is None
            if surely and hasattr(client, "read_ahead"):  # (an auth plugin's own client may have none)
                client.read_ahead(repository, described)
            whole = True
        finally:
            with self._counting:
                self._listing -= 1
                self.tags += len(listed) if whole else 0  # failed: its repository fails, no tag of it is found
                self.work += work if whole else 0
        return listed, over

    def _count_plan(self) -> None:
        """The plan's images in this worker's share (`planned`), counted as the whole listing before the
        run begins: the first progress line counts them and can tell the time left."""
        assert self.plan is not None
        planned = [(repository, tag) for repository, tag in self.plan.images if self._mine(repository, tag)]
        self.planned = planned
        with self._counting:
            self.repositories, self.tags = len({repository for repository, _ in planned}), len(planned)
            self.work = sum(self._costs(repository, tag) for repository, tag in planned)
            self._repositories_listed = True

    def _costs(self, repository: str, tag: str) -> bool:
        """Whether the image will cost requests (or a scan): not one left out at a look (by its tag, its
        name off the grammar, the patterns but in a dry run that `describes_all`; those past
        --max-images: `counts`)."""
        if attached_tag(tag) or self._connected()[1].name_problem(repository, tag) is not None:
            return False
        return self._describes_left_out(repository) or self.settings.image_filter.admits(repository, tag)

    def _describes_left_out(self, repository: str) -> bool:
        """A dry run describes the images of ``repository`` the patterns leave out (`describes_all`), unless
        the client says describing there costs what the user counts (an auth plugin's client may not say)."""
        says = getattr(self._connected()[1], "describes_left_out", None)
        return self.describes_all and (says is None or says(repository))

    def _mine(self, repository: str, tag: str) -> bool:
        """Whether ``repository:tag`` is in this worker's share (--shard K/N): a hash every machine and
        Python version computes the same, so N workers take each image exactly once."""
        share, shares = self.settings.shard
        if shares == 1:
            return True
        digest = hashlib.sha256(f"{repository}:{tag}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % shares == share - 1

    @staticmethod
    def _guarded(repositories: Iterable[str]) -> Iterator[str]:
        """The plugin's repository stream, each name once (pages by offset overlap when repositories come
        meanwhile), with a plugin bug turned into one RegistryError line."""
        seen: set[str] = set()
        try:
            for name in repositories:
                if not isinstance(name, str):  # (a catalog's JSON: a null or a number among the names)
                    raise RegistryError(
                        f"the repository listing holds {json.dumps(name, default=repr)[:80]}, not a name"
                    )
                if name not in seen:
                    seen.add(name)
                    yield name
        except TcsError:
            raise
        except Exception as exc:
            log.debug("Repository listing failed", exc_info=True)
            raise RegistryError(f"listing repositories failed: {type(exc).__name__}: {exc}") from None

    # -- per image (worker threads) ----------------------------------------------------------
    def describe(self, repository: str, tag: str, gone: bool = True) -> Outcome:
        """``gone``: a tag not found is looked for in its repository's list again (`_gone_or`); an image
        left out is not (its row is the same either way)."""
        hook, (registry, client) = self.pm.hook, self._connected()
        try:
            image = hook.describe_image(registry=registry, client=client, repository=repository, tag=tag)
        except ImageError as exc:
            if not gone:
                raise
            self._gone_or(exc, client, repository, tag)
        if image is None:
            raise PluginError(f"no installed plugin can describe images of a {registry.registry_type} registry")
        return Outcome(image)

    def describe_and_scan(self, repository: str, tag: str) -> Outcome:
        outcome = self.describe(repository, tag)
        planned = self.plan.digests.get((repository, tag)) if self.plan is not None else None
        if planned and outcome.image.digest != planned:
            moved = f"{self.settings.host}/{repository}:{tag} names {outcome.image.digest}, not {planned}"
            if not self.settings.plan_follow_tags:
                raise ImageError(f"moved since the plan: {moved} (--plan-follow-tags scans it)", code="moved")
            log.info("Scanning a tag that moved since the plan: %s", moved)
        if self.settings.mode == "scan" and self.scanners and not self._left_out(outcome.image):
            hook, (registry, client) = self.pm.hook, self._connected()
            options = {
                "scanner": None,
                "project": self.settings.project,
                "platforms": list(self.settings.platforms),
                "secrets": self.settings.secrets,
                "analyser": self.analyser,
                "matcher": self.matcher,
            }
            try:
                with self._scans:
                    outcome.scan = hook.submit_scan(
                        registry=registry, client=client, image=outcome.image, options=options
                    )
            except ImageError as exc:  # (its manifest or a layer not found: deleted since it was described?)
                self._gone_or(exc, client, repository, tag)
            if outcome.scan is None:
                raise ImageError("no installed scanner answered for this image", code="no-scanner")
        return outcome

    def _gone_or(self, exc: ImageError, client: RegistryClient, repository: str, tag: str) -> NoReturn:
        """Raises `Gone` for a tag not found that its repository no longer lists (deleted since it was listed:
        a registry in use, a retention policy at work), else ``exc`` (a registry that lost what it lists)."""
        if exc.code == "not-found":
            try:
                listed = client.still_listed(repository, tag)
            except QuotaExhausted:
                raise
            except Exception as why:  # (cannot tell: the failure stands)
                log.debug("Could not list the tags of %s again: %s", repository, _reason(why))
                listed = True
            if not listed:
                raise Gone(f"{self.settings.host}/{repository}:{tag}: deleted since it was listed") from None
        raise exc

    def _built_in_scanner_only(self) -> bool:
        """No scanner plugin of its own, with data of its own, stands beside the built-in one."""
        return all(impl.plugin is default_scanner for impl in self.pm.hook.submit_scan.get_hookimpls())

    def _left_out(self, image: ImageDescription) -> str:
        """Why an image described is not scanned nor counted as one: it is no container image, or none of
        its platforms is one --platform names (an index's or a single image's alike)."""
        wanted, platforms = self.settings.platforms, image.platforms
        if image.artifact or not wanted or not platforms or any(p.named_by(wanted) for p in platforms):
            return image.artifact
        return f"no platform matches --platform (it has: {', '.join(map(str, platforms))})"

    # -- the run -----------------------------------------------------------------------------
    def run(self, out: TextIO) -> int:
        s = self.settings
        check_output_dir(s.output_dir)  # (what a run leaves is lost if it cannot be written: found now)
        # first, so that a store that cannot be used costs the registry nothing; connections: each image
        # scanned at once (its layers), the writer threads (recorder.py, the layer cache's)
        store = self.store = Store(s.store, connections=min(SCANS, s.concurrency) + 2)
        try:
            if s.plan is not None:  # (a plan the store does not know costs the registry nothing either)
                self.plan = locate(s.plan, store, s.project, s.url)
                log.info(
                    "Scanning the plan %s of dry run %d: %s",
                    s.plan.path,
                    self.plan.run,
                    plural(len(self.plan.images), "image"),
                )
            self.connect()
            if self.plan is not None:
                self._count_plan()
        except BaseException:
            store.close()
            raise
        assert self.registry is not None and self.client is not None
        log.info("Beginning discovery of registry: %s", s.url)
        report = CsvReport(s.output_dir, s.host, s.shard) if s.mode == "dry-run" else None
        self.failures = FailureReport(s.output_dir, s.host, s.shard)
        cache = database = None
        if s.mode == "scan" and self.scanners:
            cache = LayerCache(store)
            self.analyser = Analyser(cache, s.platforms, secrets=s.secrets)
            self.results = ResultWriter(s.output_dir, s.host, s.formats, s.shard, self._selection())
            database = VulnDatabase(s.state_dir)
            if database.is_empty():
                log.warning(
                    "The vulnerability database is empty: packages are listed but not matched; "
                    "run `tcs-registry db update` (or `db import` offline) first"
                )
            else:
                self.matcher = Matcher(database)
        options = self._options()
        unfinished = store.unfinished_run(s.project, s.url, s.mode, s.shard)
        if unfinished is not None and unfinished[3] is not None:  # (two runs from cron, the first not done)
            log.warning(
                "Run %d of this registry is still running (%s): this run does not resume it",
                unfinished[0],
                unfinished[3],
            )
            unfinished = None
        # the same options, and not a run of another --scan-id: resuming it, this run is the same scan
        resumes = unfinished is not None and unfinished[1] == options and s.scan_id in (None, unfinished[2])
        scan_id = unfinished[2] if resumes and s.scan_id is None else s.scan_id
        run_id = self.run_id = store.begin_run(
            s.project, s.url, self.registry.registry_type, s.mode, options, scan_id=scan_id, shard=s.shard
        )
        if s.shard[1] > 1:  # (sharding needs a scan id: settings)
            self.summary.shard = f"{s.shard[0]} of {s.shard[1]} (scan {s.scan_id})"
            log.info("Taking shard %d of %d scan=%s", *s.shard, s.scan_id)
        if unfinished and resumes:
            self.resuming = unfinished[0]
            store.mark_followed(self.resuming, f"resumed by run {run_id}")
            self._finishing = store.resumed(run_id)
            log.info("Resuming run %d: the images it finished are not fetched again", self.resuming)
        elif unfinished:
            store.mark_followed(unfinished[0], f"superseded by run {run_id}")
            if unfinished[1] != options:
                why = "it ran with other --platform values" if unfinished[1] else "an earlier version made it"
            else:
                why = f"it was part of scan {unfinished[2]}"
            log.info("Not resuming run %d: %s", unfinished[0], why)
        used = store.scan_used(s.project, s.scan_id, s.shard, run_id) if s.scan_id is not None else None
        if used is not None and _hours_since(used["finished_at"]) >= REUSED_AFTER_HOURS:  # not a retry: a reuse
            log.warning(
                "Scan id %s was used by run %d, which finished %s: a scan id names one scan, and results --changes"
                " compares scans of other ids; give each scan its own (the CI run id, the Job's name)",
                s.scan_id, used["id"], used["finished_at"][:19],
            )  # fmt: skip
        here = local_console(s.state_dir, shown(s.store)) if s.console else None
        if s.console and here and _same_console(s.console, here):  # sent, each scan would be recorded twice
            log.warning("The console at %s serves this store: the run is recorded once, here, not sent too", here)
        elif s.console and s.token:
            self.submitter = self._submitter(scan_id or own_scan_id(run_id))
        status = "interrupted"
        pool = ThreadPoolExecutor(max_workers=s.concurrency, thread_name_prefix="describe")
        progress = Progress(self.counts, self.traffic, self.analyser is not None)
        try:
            with progress, Heartbeat(store, run_id):
                interrupted = False
                try:
                    self._pipeline(pool, store, run_id, report)
                except BaseException as exc:
                    interrupted = not isinstance(exc, Exception)  # (a Ctrl-C: the run stays "interrupted")
                    raise
                finally:  # the images under way end while the run still says it is alive (not on a Ctrl-C)
                    pool.shutdown(wait=not interrupted, cancel_futures=True)
            status = "partial" if self.partial else "complete"
        except Exception:
            status = "failed"
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # (done already, unless the block never began)
            # a run a quota stopped is resumed by the next one with the same options, as one interrupted
            recorded = "interrupted" if status == "partial" and self.stopped is not None else status
            if report:  # (closed first: the run's record names the report only if it was written)
                report.close(finished=status in ("complete", "partial"))
            try:
                store.finish_run(
                    run_id,
                    status=recorded,
                    found=self.summary.found,
                    new=self.summary.new,
                    skipped=self.summary.skipped,
                    failed=self.summary.failed,
                    report=str(report.path) if report and report.written else None,
                )
            except StoreError as exc:  # the store went away: the run stays unfinished there (resumable)
                if status != "failed":
                    raise
                log.debug("Could not record the run's end: %s", exc)
            finally:
                if cache is not None:
                    cache.close()  # its last records written before the store closes
                if report:  # what a scan would not download again
                    with suppress(StoreError):
                        self.estimate.analysed = store.analysed(self.estimate.layers)
                store.close()
                if self.submitter is not None:
                    counts = {"found": self.summary.found, "new": self.summary.new}
                    counts.update(skipped=self.summary.skipped, failed=self.summary.failed)
                    self.submitter.finish(recorded, counts)
                    if self.submitter.lost is not None:
                        remember_unsent(s.state_dir, run_id, s.console or "", s.project)
            self.store = None
            self.failures.close()
            if database:
                database.close()
            self.client.close()
            if status == "interrupted":
                self._say_stopped(run_id, report)
        return self._finish(out, report)

    def _say_stopped(self, run_id: int, report: CsvReport | None) -> None:
        """Where an interrupted run got to: it prints no summary, and the report (or the store) has its rows."""
        c = self.counts()
        found = f"{c.found:,} images" if c.listed else f"the {c.found:,} images found so far"
        kept = "what was scanned is in the store"
        if report:
            kept = f"the report so far: {report.path}" if report.written else "the report has no row yet (not written)"
        log.info("Run %d stopped after %s of %s, %d failed; %s", run_id, f"{self.settled:,}", found, c.failed, kept)

    def _pipeline(self, pool: ThreadPoolExecutor, store: Store, run_id: int, report: CsvReport | None) -> None:
        """Describe admitted images concurrently while writing results in listing order (`_settle_all`),
        the store's writes done by a thread of their own."""
        s = self.settings
        recorder = Recorder(store, run_id, s.project, s.url, self._finishing, self.submitter, plan=s.mode == "dry-run")
        try:
            self._settle_all(pool, store, recorder, report)
        except BaseException:
            with suppress(Exception):  # what is queued is written; the error that ends the run stays its own
                recorder.close()
            raise
        else:
            recorder.close()
        finally:
            self.summary.new = recorder.new

    def _settle_all(self, pool: ThreadPoolExecutor, store: Store, recorder: Recorder, report: CsvReport | None) -> None:
        """A dry run describes the images it leaves out as well, for their build time in the report
        (unless the registry counts what that costs: `RegistryClient.describe_skipped`)."""
        s, summary = self.settings, self.summary
        # A bounded look-ahead (memory does not grow with the registry: an image's description is a few
        # KB), and a wide one: while the image whose row is next waits out its retries (up to 15.5 s of
        # backoff), the workers go on with the 1,000 after it, a few seconds' work, before they wait for
        # it too. A scan's results are larger, and the analysis sets its pace: a shorter one.
        window = (SCAN_LOOK_AHEAD if self.analyser is not None else LOOK_AHEAD) * s.concurrency
        # (repository, tag, the description under way, why the image is left out: '' if it is admitted)
        pending: deque[tuple[str, str, Future[Outcome] | None, str]] = deque()
        admitted = admitted_pending = 0  # admitted images; of them, those in `pending`
        platforms = [0, 0]  # images described kept, and left out as none of their platforms is --platform's

        def submit(work: Callable[..., Outcome], *args: Any) -> Future[Outcome]:
            def counted() -> Outcome:
                outcome = None
                try:
                    outcome = work(*args)
                    return outcome
                finally:
                    self._one_finished(scanned=outcome is not None and outcome.scan is not None, worked=True)

            return pool.submit(counted)

        def skipped_row(repository: str, tag: str, future: Future[Outcome] | None) -> None:
            build_time = ""
            if future is not None:
                try:
                    image = future.result().image
                    build_time = "" if image.artifact else format_time(image.build_time)
                except QuotaExhausted as exc:
                    self._stop(exc)
                except Exception as exc:  # the image is left out anyway: its row stays without a date
                    log.debug(
                        "Could not describe a skipped image image=%s/%s:%s error=%s",
                        s.host,
                        repository,
                        tag,
                        _reason(exc),
                    )
            if report:
                report.row(f"{s.host}/{repository}", tag, build_time, skipped=True)

        def settle(entry: tuple[str, str, Future[Outcome] | None, str] | None = None) -> None:
            """The next image's row and records (or ``entry``'s, taken out of its turn)."""
            if entry is None:
                entry = pending.popleft()
            else:
                pending.remove(entry)
            if entry[2] is not None:
                wait([entry[2]])  # its outcome in hand (a Ctrl-C while it waits leaves it unsettled), it is
            self.settled += 1  # counted before it is written: a Ctrl-C may come while it is
            write(*entry)

        def write(repository: str, tag: str, future: Future[Outcome] | None, left_out: str) -> None:
            nonlocal admitted, admitted_pending
            admitted_pending -= not left_out
            reference = f"{s.host}/{repository}:{tag}"
            if left_out or future is None:
                skipped_row(repository, tag, future)
                return
            try:
                outcome = future.result()
                image = outcome.image
                why = self._left_out(image)
                if not image.artifact:
                    platforms[bool(why)] += 1  # (kept, left out by --platform)
                if not why:
                    recorder.image(image)
                    build_time = format_time(image.build_time)
            except QuotaExhausted as exc:
                summary.undone += 1
                self._stop(exc)
                self._record_failure(f"{s.host}/{repository}", tag, exc)
                return
            except StoreError:  # nothing more can be recorded: the run ends (a killed run, to resume)
                raise
            except Gone:  # nothing of it is left to scan: not a failure
                why, future = "deleted since it was listed", None
            except Exception as exc:  # a registry error, odd data or a plugin bug fails this image only
                summary.failed += 1
                _log_failure("Failed to describe image image=%s", reference, exc)
                self._record_failure(f"{s.host}/{repository}", tag, exc)
                return
            if why:
                admitted -= 1  # --max-images counts the images it may scan
                summary.skipped += 1
                log.info("Skipped image=%s reason=%s", reference, why)
                skipped_row(repository, tag, future)  # (described: its build time is known; gone: none)
                return
            if outcome.resumed:
                self.resumed += 1
                log.debug("Resumed image image=%s", reference)
            else:
                log.info("Fetched image discovery details image=%s", reference)
            if report:
                report.row(f"{s.host}/{repository}", tag, build_time, skipped=False)
                self.estimate.add(image, resumed=outcome.resumed)
            if outcome.scan is not None:
                try:
                    self._record_scan(recorder, outcome.scan)
                except ImageError as exc:  # its results could not be written: this image fails, the run goes on
                    summary.failed += 1
                    _log_failure("Failed to record image image=%s", reference, exc)
                    self._record_failure(f"{s.host}/{repository}", tag, exc)
                    return
            if outcome.scan is not None or report:
                self.done += 1

        unmatched = {p for p in s.image_filter.allow if p.text != "*"}  # allow patterns that admitted nothing
        denied: set[Any] = set()  # of those, the ones that matched images the deny list took out
        try:
            for repository, tag in self.candidates():
                raise_if_stopped()  # (a Ctrl-C whose exception a finalizer dropped)
                summary.found += 1
                attached = attached_tag(tag)
                wanted = not attached and s.image_filter.admits(repository, tag)
                if unmatched and not attached:
                    matched = {p for p in unmatched if p.matches(repository, tag)}
                    if wanted:
                        unmatched -= matched
                    else:
                        denied |= matched
                if wanted and s.max_images is not None and admitted >= s.max_images:
                    while admitted_pending:  # an image under way may prove to be no image and free its
                        settle()  # place (the skipped ones are not waited for)
                within_limit = s.max_images is None or admitted < s.max_images
                if wanted and within_limit:
                    admitted += 1
                    done = self._resumed(store, repository, tag) if self.resuming else None
                    if self.stopped is not None and done is None:  # the quota is gone: count what is left, ask
                        summary.undone += 1  # nothing more
                        self._one_finished(worked=True)  # (counted as work: done now, as far as it goes)
                        undone = self._stopped_by(f"left undone: {self.stopped}")
                        self._record_failure(f"{s.host}/{repository}", tag, undone)
                        continue
                    if done is not None:  # once stopped, as the run before found it (not checked: no request)
                        check = self._unmoved if self.stopped is None else self._as_it_was
                        pending.append((repository, tag, submit(check, done), ""))
                    else:
                        pending.append((repository, tag, submit(self.describe_and_scan, repository, tag), ""))
                    admitted_pending += 1
                else:
                    summary.skipped += 1
                    if attached and s.image_filter.admits(repository, tag):  # (the patterns' leaving out is no news)
                        log.info("Skipped image=%s/%s:%s reason=%s (by its tag)", s.host, repository, tag, attached)
                    elif wanted:
                        log.debug("Skipping image beyond --max-images image=%s/%s:%s", s.host, repository, tag)
                    describe = report is not None and not attached and self.stopped is None
                    describe = describe and self._describes_left_out(repository)  # (describes_all, per repository)
                    future = submit(partial(self.describe, gone=False), repository, tag) if describe else None
                    if future is None:
                        self._one_finished()  # nothing to do but its row
                    pending.append((repository, tag, future, attached or "left out"))
                while pending and (len(pending) > window or pending[0][2] is None or pending[0][2].done()):
                    settle()
            while pending:
                raise_if_stopped()
                settle()
        except KeyboardInterrupt:
            if report is None:  # a scan keeps the images scanned behind one still under way (a dry run's
                # report keeps listing order: its descriptions, cheap, are asked again); none begins meanwhile
                pool.shutdown(wait=False, cancel_futures=True)
                for entry in [e for e in pending if e[2] is None or (e[2].done() and not e[2].cancelled())]:
                    with suppress(Exception):
                        settle(entry)
            raise
        whole = self.stopped is None and s.shard[1] == 1 and not summary.failed_repositories  # every tag seen
        for pattern in sorted(unmatched, key=lambda p: p.text) if whole else ():
            first, slash, _ = pattern.text.partition("/")
            hint = " (a pattern is repository[:tag], without the registry host)" if slash and "." in first else ""
            if pattern in denied:
                log.warning("Every image the allow pattern %r matched is denied (--denyList)", pattern.text)
            else:
                log.warning("No image matched the allow pattern %r%s", pattern.text, hint)
        if platforms[1] and not platforms[0] and s.shard[1] == 1:  # (as a pattern that matched nothing: a typo)
            log.warning(
                "No image has a platform --platform names (%s): %s left out",
                ", ".join(s.platforms), plural(platforms[1], "image"),
            )  # fmt: skip
        again = self._stopped_by.again
        if self.stopped is not None and summary.undone:
            log.error("%d admitted images were left undone; run again %s", summary.undone, again)
        elif self.stopped is not None and self.unlisted:
            log.error("The listing is incomplete (no image listed was left undone); run again %s", again)
        if self.stopped is not None and self.unchecked:  # (a registry that never says: no news, no line)
            log.error(
                "%s kept as the interrupted run found them, not knowing whether their tags moved; run again %s",
                plural(self.unchecked, "resumed image"), again,
            )  # fmt: skip
        if s.max_images is not None and admitted >= s.max_images and summary.skipped:
            log.warning(
                "Image limit reached: only the first %d admitted images were processed (--max-images)", s.max_images
            )

    def counts(self) -> Counts:
        summary = self.summary
        with self._counting:
            listed = self._repositories_listed and self._listing == 0
            tags, finished, scanned = self.tags, self.finished, self.scanned
            tagged = self.repositories - self._listing  # repositories whose tags are all counted in `tags`
            work, worked = self.work, self.worked
        if self.settings.max_images is not None and not self.describes_all:
            work = min(work, self.settings.max_images)  # (those past it are left out at a look)
        catalog = self._catalog.length if self._catalog is not None else None
        return Counts(self.repositories, tags, finished, scanned, summary.failed, listed, catalog, tagged, work, worked)

    def _one_finished(self, scanned: bool = False, worked: bool = False) -> None:
        """One more tag dealt with (described, skipped or failed; its row written or not), and scanned;
        ``worked``: it took requests (or a scan), not only a row."""
        with self._counting:
            self.finished += 1
            self.scanned += scanned
            self.worked += worked

    def _stop(self, exc: QuotaExhausted, detail: str = "") -> None:
        """The run stops asking the registry (said once, whichever thread finds it first)."""
        with self._counting:
            first, self.stopped = self.stopped is None, self.stopped or str(exc)
            if first:
                self._stopped_by = type(exc)
        if first:
            log.error("Stopping: %s%s", exc, detail)

    def _as_it_was(self, done: Outcome) -> Outcome:
        """A resumed image kept as the run before found it, whether its tag moved unknown (the registry did
        not say, or the quota stopped the run: no request)."""
        with self._counting:
            self.unchecked += 1
        return done

    def _unmoved(self, done: Outcome) -> Outcome:
        """A resumed image, unless one HEAD request shows its tag names another digest now: then the
        image as it is now. A registry that does not say (no digest, an error) keeps the resumed one."""
        image, (_, client) = done.image, self._connected()
        try:
            digest = client.manifest_digest(image.repository, image.tag)
        except ImageError as exc:  # the tag is gone, or the registry lost it: as describing it now would say
            self._gone_or(exc, client, image.repository, image.tag)
        except QuotaExhausted as exc:  # the run stops; this image keeps what the run before found
            self._stop(exc)
            digest = None
        except TcsError:
            digest = None
        if digest is None:
            return self._as_it_was(done)
        if digest == image.digest:
            return done
        log.info(
            "Tag moved since run %s, describing it again image=%s/%s:%s",
            self.resuming, self.settings.host, image.repository, image.tag,
        )  # fmt: skip
        return self.describe_and_scan(image.repository, image.tag)

    def _submitter(self, scan_id: str) -> Submitter:
        """The run sent to the console as it goes. A scan without --scan-id is named there after this
        machine's store, as run ids of different machines' stores meet in one console."""
        s = self.settings
        key = client_key(s.state_dir, self.run_id)
        begin = {
            "registry": s.url,
            "registry_type": self.registry.registry_type if self.registry else "DEFAULT_V2",
            "mode": s.mode,
            "scan_id": console_scan_id(s.state_dir, self.run_id, scan_id, s.scan_id is not None),
            "shard": list(s.shard),
            "client": key,
        }
        return Submitter(Console(s.console or "", s.token or "", s.project), begin)

    def _selection(self) -> str:
        """The filters that leave images out of this run, as text ('' for the whole registry)."""
        s = self.settings
        allow, deny = [p.text for p in s.image_filter.allow], [p.text for p in s.image_filter.deny]
        if allow == ["*"] and not deny and s.max_images is None and not s.platforms and self.plan is None:
            return ""
        chosen = [allow, deny, s.max_images, sorted(s.platforms)]
        return json.dumps(chosen + ([self.plan.key] if self.plan is not None else []))

    def _options(self) -> str:
        """What this run's images depend on besides the registry: a killed scan with other platforms is
        not resumed (its inventories would miss some). Describing ignores them; findings are matched
        again on resuming, so the vulnerability database may change in between. A scan that leaves
        images out keeps its filters (``selection``): its SARIF, rebuilt later, goes to their category."""
        s = self.settings
        if s.mode != "scan" or not self.scanners:
            return "{}"
        selection = self._selection()
        options: dict[str, Any] = {"platforms": sorted(s.platforms), **({"selection": selection} if selection else {})}
        if not s.secrets:  # a scan with secrets is not finished by one without, nor the reverse
            options["secrets"] = False
        if self.plan is not None:  # a plan's scan resumes only a scan of that plan
            options["plan"] = {"images": self.plan.key, "follow_tags": s.plan_follow_tags}
        return json.dumps(options)

    def _resumed(self, store: Store, repository: str, tag: str) -> Outcome | None:
        """What the resumed run found for this image, if it finished it (a scan: every platform stored), or
        the run that one resumed, and so on: a run stopped before it reached an image did not lose it."""
        s = self.settings
        row = store.described(self._finishing, s.project, s.url, repository, tag)
        if row is None:
            return None
        platforms = tuple(Platform(*[*p.split("/"), None][:3]) for p in json.loads(row["platforms"]))
        image = ImageDescription(
            repository, tag, row["digest"], row["media_type"], platforms, parse_time(row["build_time"])
        )
        if s.mode != "scan" or not self.scanners:
            return Outcome(image, resumed=True)
        scanned = store.scanned(s.project, self._finishing, repository=repository, tag=tag)
        if not scanned:
            return None  # described, not scanned: do it now
        inventories, vulnerabilities, violations = [], [], []
        for scan_row, document in scanned:
            inventory, found, checks = matched_again(self.matcher, scan_row, document)
            inventories.append(inventory)
            vulnerabilities += found
            violations += checks
        scan = ScanResult(image, default_scanner.NAME, tuple(inventories), tuple(vulnerabilities), tuple(violations))
        return Outcome(image, scan, resumed=True)

    def _refuse_name(self, repository: str, tag: str, problem: str) -> None:
        """A listed name off the grammar: reported (control characters escaped: one log line, one cell)."""
        repository, tag = printable(repository[:MAX_REPOSITORY_NAME]), printable(tag[:MAX_TAG])
        if tag:  # (a failure, counted among the failed: "Failed", as the others say)
            log.error("Failed image name image=%s/%s:%s error=%s", self.settings.host, repository, tag, problem)
        else:
            log.error("Failed repository name repository=%s error=%s", repository, problem)
        self._record_failure(f"{self.settings.host}/{repository}", tag, ImageError(problem, code="invalid-name"))

    def _short(self) -> bool:
        """Whether the run left out too much: anything at all, or with --min-coverage, more than it allows
        (a repository whose tags could not be listed counts as one image left out). Says the coverage."""
        s, summary = self.settings, self.summary
        if self.failures and self.failures.codes:
            codes = sorted(self.failures.codes.items(), key=lambda item: (-item[1], item[0]))
            summary.codes = ", ".join(f"{code} {n:,}" for code, n in codes)
        if s.min_coverage is None:
            return self.partial
        if self.unlisted:
            summary.coverage = f"unknown: the listing stopped early (--min-coverage {s.min_coverage:g}%)"
            log.error("Coverage is unknown: the listing of the registry stopped early")
            return True
        left_out = summary.failed + summary.undone + summary.failed_repositories
        admitted = self.done + left_out
        coverage = 100.0 * self.done / admitted if admitted else 100.0
        summary.coverage = (
            f"{coverage:.1f}% of {plural(admitted, 'admitted image')} (--min-coverage {s.min_coverage:g}%)"
        )
        if coverage < s.min_coverage:
            log.error(
                "Coverage %.1f%% is below --min-coverage %g%%: %s left out",
                coverage, s.min_coverage, plural(left_out, "image"),
            )  # fmt: skip
            return True
        if left_out:
            log.warning(
                "Coverage %.1f%% meets --min-coverage %g%%: %s left out (%s)",
                coverage, s.min_coverage, plural(left_out, "image"), summary.failures or "see the log",
            )  # fmt: skip
        return False

    def _record_failure(self, repository: str, tag: str, exc: Exception, otherwise: str = "analysis-error") -> None:
        code = failure_code(exc, otherwise)  # (``otherwise``: a bug's, not a TcsError)
        repository, tag = hide_in_name(repository), hide_in_name(tag)  # a registry may echo a credential as a name
        if self.failures is not None:
            self.failures.add(repository, tag, code, _reason(exc))
        if self.store is not None:
            self.store.record_failure(self.run_id, repository, tag, _reason(exc), code)

    def _record_scan(self, recorder: Recorder, scan: ScanResult) -> None:
        """Write the image's result files, then record it in the store: a file that cannot be written (a full
        disk, a directory in the way) fails this image, with nothing of it recorded."""
        s = self.settings
        recorded = []
        for inventory in scan.inventories:
            platform = str(inventory.platform or "")
            vulnerabilities = [v for v in scan.vulnerabilities if v.platform == platform]
            violations = [c for c in scan.violations if c.platform == platform]
            # not matched is not the same as none found: no database, or (for the built-in scanner's
            # inventories) no advisory filed for any of their packages
            matchable = inventory.matchable or scan.scanner != default_scanner.NAME
            matched = bool(vulnerabilities) or (self.matcher is not None and matchable)
            vulnerabilities, violations, ignored = s.ignore.split(
                inventory.repository, inventory.tag, vulnerabilities, violations
            )
            document = sbom.to_json(inventory, s.host)
            kept = findings_document(vulnerabilities, violations, ignored, matched)
            violations = [c for c in violations if c.id not in s.skip_checks]  # what the user asked to see: the
            if s.severities:  # store keeps every severity and check
                vulnerabilities = [v for v in vulnerabilities if v.severity in s.severities]
                violations = [c for c in violations if c.severity in s.severities]
            shown = findings_document(vulnerabilities, violations, ignored, matched)
            recorded.append(((inventory, document, kept), vulnerabilities, violations, shown))
        written: list[str] = []
        try:
            for (inventory, document, _), vulnerabilities, violations, shown in recorded:
                if self.results:  # every platform's files first: a failure leaves nothing of the image counted
                    written += self.results.files(inventory, document, vulnerabilities, violations, shown)
        except OSError as exc:
            if self.results:
                self.results.forget(written)
            raise ImageError(f"cannot write its results: {exc}", code="output-error") from None
        for scanned, vulnerabilities, violations, shown in recorded:
            recorder.scan(scanned)
            inventory, matched = scanned[0], "vulnerabilities" in shown
            if self.results:
                self.results.count(inventory, vulnerabilities, violations, matched=matched)
            vulnerability_count, violation_count = len(vulnerabilities), len(violations)
            reference = f"{s.host}/{inventory.repository}:{inventory.tag}"
            log.info(
                "Scanned image image=%s platform=%s os=%s packages=%d vulnerabilities=%s violations=%d",
                reference,
                inventory.platform or "-",
                ":".join(part for part in (inventory.os_id, inventory.os_version) if part) or "unknown",
                len(inventory.packages),
                vulnerability_count if matched else "unmatched",
                violation_count,
            )
            for problem in inventory.problems:
                log.warning("Analysis skipped a file image=%s %s", reference, problem)

    def _finish(self, out: TextIO, report: CsvReport | None) -> int:
        s, summary = self.settings, self.summary
        if self.failures and self.failures.written:
            summary.failures = str(self.failures.path)
        # a console that could not be sent the run: everything is here, but not there yet (results push)
        unsent = self.submitter is not None and self.submitter.lost is not None
        code = EXIT_PARTIAL if self._short() or unsent else EXIT_OK
        traffic = self.traffic
        if traffic is not None:
            log.info(
                # (text, as the Progress lines' in_flight and concurrency, which may be "-": one type a field)
                "Requests to the registry sent=%d in_flight=%s concurrency=%s most=%d rate=%s",
                traffic.pace.sent,
                f"{traffic.concurrency.busy():.1f}",
                f"{traffic.concurrency.average():.1f}",
                traffic.concurrency.most,
                f"{traffic.pace.rate:.1f}" if traffic.pace.rate else "unlimited",
            )
        if report and report.broken:
            code = EXIT_PARTIAL  # (its images are in the store: `results` shows them)
        if report:
            if report.written:
                log.info("Output report: %s", report.path)
                summary.report = str(report.path)
            summary.estimate = self.estimate.lines(getattr(self.client, "remaining", None))
            summary.violations = summary.vulnerabilities = "none: dry run, no images scanned"
        elif not self.scanners:
            summary.violations = summary.vulnerabilities = "none: no scanner plugin is installed"
        if s.ignore.ignored:
            summary.ignored = f"{s.ignore.ignored:,} (the rules in {s.ignore.path})"
        if self.results:
            if not self.results.finish(self.partial):  # (a CI job would upload a stale file, or none)
                code = EXIT_PARTIAL
            sent = self.submitter is not None and self.submitter.lost is None and self.submitter.run is not None
            if sent:  # the console it was sent to: the summary links to its pages of this scan
                console, run = s.console, self.submitter.run  # type: ignore[union-attr]
            else:  # a console over this store, on this machine
                console, run = local_console(s.state_dir, shown(s.store)), self.run_id
            if console:
                self.results.links = {
                    kind: f"{console}/projects/{quote(s.project, safe='')}/{kind}?scan={run}"
                    for kind in ("vulnerabilities", "violations")
                }
            summary.severities = s.severities
            summary.inventories = self.results.where
            summary.violations = self.results.violation_details()
            summary.vulnerabilities = (
                self.results.vulnerability_details()
                if self.matcher or self.results.vulnerabilities  # a scanner plugin may match on its own
                else "not matched: the vulnerability database is empty (tcs-registry db update)"
            )
            self.results.print_table(out)
        if self.analyser:
            log.info("Layers analysed=%d reused=%d", self.analyser.layers_analysed, self.analyser.layers_reused)
        if self.resuming:
            log.info("Resumed images=%d from run %d", self.resumed, self.resuming)
        summary.write(out)
        if s.mode == "scan" and not self.scanners:
            log.error(
                "No scanner is installed, so no image was scanned: install a scanner plugin, "
                "or use --mode=dry-run for discovery only"
            )
            return EXIT_USAGE
        if s.fail_on and self.results and (over := self.results.at_or_above(s.fail_on)):
            log.error("Found %d findings at or above --fail-on=%s", over, s.fail_on.lower())
            if code == EXIT_OK:  # an incomplete run says so first: its exit code stays 4
                code = EXIT_FINDINGS
        elif s.fail_on and self.results and self.scanned and not self.matcher and self._built_in_scanner_only():
            # no vulnerability was looked for (a runner that forgot `db update`): the gate must not pass
            log.error(
                "No vulnerability was looked for (the vulnerability database is empty), so --fail-on cannot pass"
                " the images: run `tcs-registry db update` (or `db import` offline) first"
            )
            if code == EXIT_OK:
                code = EXIT_PARTIAL
        if s.fail_on and self.matcher and self.results and self.results.unmatched:
            log.warning(
                "--fail-on judged no vulnerability of %s: no advisory is filed for their packages",
                plural(self.results.unmatched, "image platform"),
            )
        return code


def _same_console(url: str, local: str) -> bool:
    """Whether ``--console`` names the console this machine runs over the run's own store (by another of
    this machine's names, too: its loopback addresses, its host name)."""
    (scheme, asked), (theirs, there) = origin(url), origin(local)
    (host, _, port), (their_host, _, their_port) = asked.rpartition(":"), there.rpartition(":")
    mine = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", socket.gethostname().lower(), socket.getfqdn().lower()}  # noqa: S104
    same_host = host == their_host or {host, their_host} <= mine
    return same_host and (scheme, port) == (theirs, their_port) and urlsplit(url).path in ("", "/")
