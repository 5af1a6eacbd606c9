"""Hook specifications: the whole contract between the core and registry plugins.

A plugin is a module (or object) whose functions are marked with ``@tcs_registry.hookimpl`` and
named after the specs below. Install it as a distribution that declares::

    [project.entry-points.tcs_registry]
    tcs-registry-acme = "tcs_registry_acme"

Rules every plugin follows:

* Call signatures are keyword-only; an implementation may accept fewer arguments than the spec.
* The operation hooks (`authenticate` .. `describe_image`) are *first result wins*: return
  ``None`` when ``registry.registry_type`` is not one of yours, and the next plugin is asked. The
  built-in generic V2 plugin answers last (``trylast``) for every type, so a vendor plugin only
  implements what it does better than plain V2 and leaves the rest to it.
* An auth-override plugin marks its `authenticate` with ``@hookimpl(tryfirst=True)``, returns
  ``None`` for every host it does not manage, and logs in with `tcs_registry.log_in` (the client of
  the registry's own type) where it changes only the credentials.
* Raise `tcs_registry.errors.RegistryError` (or `AuthError`, `ImageError`) with a one-line
  message for "mine, and it failed"; never put credentials in a message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

PROJECT = "tcs_registry"  # the pluggy project name and the entry-point group
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

if TYPE_CHECKING:
    from .http import RegistryClient
    from .models import (
        Credentials,
        ImageDescription,
        Probe,
        Registry,
        RegistryMatch,
        RegistryType,
        ScanResult,
    )


@hookspec
def registry_types() -> list[RegistryType]:
    """Declare the registry types this plugin serves (usually one).

    Collected from every plugin. A type name is upper case (``HARBOR``) and is what
    ``--registry-type`` accepts and what the log line ``Identified registry as: ...`` shows. Two
    plugins declaring the same name is an error at start-up.
    """


@hookspec
def sniff_registry(url: str, probe: Probe) -> RegistryMatch | None:
    """Say whether ``url`` is a registry of one of your types, and how sure you are.

    Decide from the URL alone where you can (no request). Otherwise ``probe.v2()`` returns the
    anonymous ``GET /v2/`` answer (status and headers, fetched once and shared by all plugins) and
    ``probe.get(path)`` one anonymous vendor probe. Return ``RegistryMatch(type, confidence)`` with a
    `tcs_registry.Confidence` band, or ``None``. Collected from every plugin; the highest confidence
    wins, a tie between two types is an error that asks for ``--registry-type``, and with no answer
    the type is ``DEFAULT_V2``. Not called when the user gave ``--registry-type``.
    """


@hookspec(firstresult=True)
def authenticate(registry: Registry, credentials: Credentials) -> RegistryClient | None:
    """Log in to ``registry`` and return the `RegistryClient` every later hook receives.

    ``credentials`` are what the user supplied (flags > env > config file > docker
    ``config.json``), possibly anonymous. Return ``None`` to let the next plugin answer: the
    generic V2 plugin (``trylast``) answers for every registry with the V2 Basic/Bearer flow and
    checks the credentials against ``/v2/``. Raise `AuthError` when the registry refuses them.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def list_repositories(registry: Registry, client: RegistryClient) -> Iterable[str] | None:
    """Return every repository name of the registry, e.g. ``team/api`` (an iterable; stream it).

    ``None`` means "not my registry type"; an empty iterable means "mine, and empty". The generic
    answer pages through ``/v2/_catalog``. Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def list_tags(registry: Registry, client: RegistryClient, repository: str) -> Iterable[str] | None:
    """Return every tag of ``repository`` (an iterable). Same contract as `list_repositories`.

    The generic answer pages through ``/v2/<repository>/tags/list``. Stops at the first non-None
    result.
    """


@hookspec(firstresult=True)
def describe_image(registry: Registry, client: RegistryClient, repository: str, tag: str) -> ImageDescription | None:
    """Describe one image: digest, media type, platforms (for an index) and build time.

    The generic answer fetches the manifest (verifying its digest), and the config blob of the
    image or of each platform of an index for its ``created`` time. Raise `ImageError` if this one
    image cannot be described; the run goes on and reports it. Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def submit_scan(
    registry: Registry, client: RegistryClient, image: ImageDescription, options: dict[str, Any]
) -> ScanResult | None:
    """Scan one admitted image and return its result.

    ``options["scanner"]`` names the scanner the user chose (``None`` for the default); answer
    only if it is yours. ``options["platforms"]`` lists the ``--platform`` values (empty: every
    linux platform); ``options["analyser"]`` is the run's shared `tcs_registry.analysis.inventory.Analyser`,
    whose layer cache a scanner that reads layers itself can use; ``options["matcher"]`` is the run's
    `tcs_registry.vulns.matching.Matcher` over the offline OSV database (``None`` when it is empty);
    ``options["secrets"]`` is False when the user turned the search for credentials in files off.
    Return the inventories, `Vulnerability` and `Violation` findings (each with its platform).
    Raise `ImageError` if the scan of this image fails. Stops at the first
    non-None result.
    """
