"""A Harbor facade: Harbor's API v2.0 and /v2/ auth, serving real images from the CNCF registry.

Faithful to goharbor/harbor (v2.x): api/v2.0/swagger.yaml (paths, page/page_size with max 100,
X-Total-Count and a relative Link with rel="prev"/"next" from src/server/v2.0/handler/base.go),
src/pkg/artifact/dao/dao.go (untagged children of an index are not listed),
src/server/middleware/v2auth/auth.go (the /v2/ challenge names service="harbor-registry" and the
token service <external URL>/service/token), the double-encoded repository path segment, and
the artifact JSON shape (type, manifest_media_type, media_type, tags, references, extra_attrs), and
src/server/v2.0/handler/project.go ListProjects (since v2.4.0, PR #15431: a project robot sees its
own projects plus the public ones; every project here is private).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest

from tcs_registry.oci import INDEX_TYPES
from tcs_registry.testing.datasets import Expected, push_index, push_tags
from tcs_registry.testing.facade import Facade, Request, StoredRegistry, json_answer, text_answer
from tcs_registry.testing.fixtures import seed, serving
from tcs_registry.testing.images import Pusher, digest_of, make_layer

HARBOR_USERS = {"admin": "Harbor12345", "robot$team+ci": "robot-secret-token-1"}
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
NEVER = "0001-01-01T00:00:00.000Z"


def seed_harbor(pusher: Pusher) -> list[Expected]:
    """Projects library, ops and team; an untagged image, a Helm chart, an index with an attestation."""
    base = [make_layer({"etc/os-release": b"ID=harbor-test\n"})]
    alpine = [
        ("3.19", "2024-01-10T10:00:00Z"),
        ("3.20", "2024-05-20T12:30:45.5Z"),
        ("latest", "2024-05-20T12:30:45.5Z"),
    ]
    expected = push_tags(pusher, "library/alpine", alpine, base)
    pusher.image("team/api", None, created="2023-06-01T00:00:00Z", layers=base)  # untagged: not reported
    api = [("1.0.0", "2024-02-01T08:00:00Z"), ("1.1.0", "2024-02-15T09:00:00Z")]
    expected += [
        *push_tags(pusher, "team/api", api, base, docker=True),
        *push_tags(pusher, "team/sub/app", [("v1", "2023-12-31T23:59:59Z")], base),
        push_index(
            pusher, "team/web", "2.0", [("amd64", "2024-03-01T00:00:00Z"), ("arm64", "2024-03-01T00:05:00Z")], base
        ),
        *push_tags(pusher, "ops/tool", [("1.0", "2025-01-01T00:00:00Z")], base),
    ]
    chart = json.dumps({"name": "chart", "version": "0.1.0", "apiVersion": "v2"}).encode()
    pusher.blob("ops/chart", chart)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": HELM_CONFIG, "digest": digest_of(chart), "size": len(chart)},
        "layers": [],
    }
    pusher.manifest("ops/chart", "0.1.0", json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    return expected


class HarborFacade(Facade):
    def __init__(self, upstream: str, stored: StoredRegistry, users: dict[str, str]) -> None:
        super().__init__(upstream, name="harbor")
        self.stored, self.users = stored, users
        self._artifacts: dict[tuple[str, str], dict[str, Any]] = {}
        self.route("GET", "/api/v2.0/ping")(lambda request: text_answer("Pong"))
        self.route("GET", "/service/token")(self.token)
        self.route("GET", "/v2/.*")(self.v2)
        self.route("GET", "/api/v2.0/projects")(self.projects)
        self.route("GET", "/api/v2.0/projects/(?P<project>[^/]+)/repositories")(self.repositories)
        self.route("GET", "/api/v2.0/projects/(?P<project>[^/]+)/repositories/(?P<repo>[^/]+)/artifacts")(
            self.artifacts
        )
        self.route(
            "GET", "/api/v2.0/projects/(?P<project>[^/]+)/repositories/(?P<repo>[^/]+)/artifacts/(?P<ref>[^/]+)"
        )(self.one_artifact)

    # -- auth ----------------------------------------------------------------------------------
    def _basic_user(self, request: Request) -> str | None:
        basic = request.basic()
        return basic[0] if basic and self.users.get(basic[0]) == basic[1] else None

    def token(self, request: Request):
        if request.basic() and not self._basic_user(request):
            return json_answer({"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]}, 401)
        return json_answer(
            {
                "token": self.issue_token(self._basic_user(request) or ""),
                "expires_in": 1800,
                "issued_at": datetime.now(UTC).isoformat(),
            }
        )

    def v2(self, request: Request):
        user = self._basic_user(request) or self.tokens.get(request.bearer() or "")
        if not user:  # every project here is private
            challenge = f'Bearer realm="{self.url}/service/token",service="harbor-registry"'
            return json_answer(
                {"errors": [{"code": "UNAUTHORIZED", "message": "unauthorized"}]}, 401, {"WWW-Authenticate": challenge}
            )
        return self.forward(request)

    def _rest_user(self, request: Request) -> str | None:
        return self._basic_user(request)

    def _unauthorized(self):
        return json_answer({"errors": [{"code": "UNAUTHORIZED", "message": "unauthorized"}]}, 401)

    def _visible(self, user: str, project: str) -> bool:
        return user == "admin" or user.startswith(f"robot${project}+")

    # -- paging: page from 1, page_size default 10, max 100; X-Total-Count; relative Link --------
    def _page(self, request: Request, items: list[Any]):
        page = int(request.arg("page", "1"))
        size = min(int(request.arg("page_size", "10")), 100)
        chunk = items[(page - 1) * size : page * size]
        links = []
        other = "&".join(f"{k}={v[0]}" for k, v in request.query.items() if k not in ("page", "page_size"))
        base = request.target.split("?")[0] + "?" + (other + "&" if other else "")
        if page > 1:
            links.append(f'<{base}page={page - 1}&page_size={size}>; rel="prev"')
        if page < math.ceil(len(items) / size):
            links.append(f'<{base}page={page + 1}&page_size={size}>; rel="next"')
        headers = {"X-Total-Count": str(len(items))}
        if links:
            headers["Link"] = ", ".join(links)
        return json_answer(chunk, headers=headers)

    # -- REST ----------------------------------------------------------------------------------
    def projects(self, request: Request):
        user = self._rest_user(request)
        if not user:
            return self._unauthorized()
        names = sorted({r.split("/")[0] for r in self.stored.repositories()})
        visible = [n for n in names if self._visible(user, n)]
        return self._page(
            request,
            [
                {"project_id": i + 1, "name": n, "registry_id": None, "deleted": False, "metadata": {"public": "false"}}
                for i, n in enumerate(visible)
            ],
        )

    def repositories(self, request: Request, project: str):
        user = self._rest_user(request)
        if not user:
            return self._unauthorized()
        if not self._visible(user, project):
            return json_answer({"errors": [{"code": "FORBIDDEN", "message": "forbidden"}]}, 403)
        names = [r for r in self.stored.repositories() if r.startswith(project + "/")]
        return self._page(
            request,
            [{"id": i + 1, "name": n, "artifact_count": len(self.stored.manifests(n))} for i, n in enumerate(names)],
        )

    def _artifact(self, repository: str, digest: str) -> dict[str, Any]:
        key = (repository, digest)
        if key not in self._artifacts:
            manifest, _ = self.upstream_manifest(repository, digest)
            revision = self.stored.root / repository / "_manifests" / "revisions" / "sha256" / digest[7:] / "link"
            pushed = datetime.fromtimestamp(revision.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            artifact: dict[str, Any] = {
                "digest": digest,
                "manifest_media_type": manifest.get("mediaType"),
                "push_time": pushed,
                "pull_time": NEVER,
                "extra_attrs": None,
                "references": None,
                "repository_name": repository,
            }
            if manifest.get("mediaType") in INDEX_TYPES:
                artifact.update(
                    type="IMAGE",
                    media_type=manifest["mediaType"],
                    references=[
                        {
                            "child_digest": m["digest"],
                            "platform": m.get("platform"),
                            "annotations": m.get("annotations"),
                        }
                        for m in manifest["manifests"]
                    ],
                )
            else:
                config_type = manifest["config"]["mediaType"]
                artifact.update(media_type=config_type, type="CHART" if config_type == HELM_CONFIG else "IMAGE")
                if artifact["type"] == "IMAGE":
                    config = self.upstream_json(f"/v2/{repository}/blobs/{manifest['config']['digest']}")
                    artifact["extra_attrs"] = {k: config.get(k) for k in ("architecture", "os", "created", "author")}
                    artifact["extra_attrs"]["config"] = config.get("config")
            self._artifacts[key] = artifact
        artifact = dict(self._artifacts[key])
        tags = [t for t, d in self.stored.tags(repository).items() if d == digest]
        artifact["tags"] = [
            {"name": t, "push_time": artifact["push_time"], "pull_time": NEVER, "immutable": False} for t in tags
        ] or None
        return artifact

    def artifacts(self, request: Request, project: str, repo: str):
        user = self._rest_user(request)
        if not user:
            return self._unauthorized()
        repository = f"{project}/{unquote(repo)}"  # the path segment arrives double-encoded
        all_ = [self._artifact(repository, d) for d in self.stored.manifests(repository)]
        children = {r["child_digest"] for a in all_ for r in a["references"] or ()}
        listed = [a for a in all_ if a["digest"] not in children or a["tags"]]  # dao.go hides untagged children
        if request.arg("with_tag", "true") != "true":
            for a in listed:
                a.pop("tags")
        return self._page(request, listed)

    def one_artifact(self, request: Request, project: str, repo: str, ref: str):
        if not self._rest_user(request):
            return self._unauthorized()
        repository = f"{project}/{unquote(repo)}"
        digest = self.stored.tags(repository).get(ref, ref)
        if digest not in self.stored.manifests(repository):
            return json_answer({"errors": [{"code": "NOT_FOUND", "message": "artifact not found"}]}, 404)
        return json_answer(self._artifact(repository, digest))


@pytest.fixture(scope="session")
def harbor_seeded(work):
    return seed(work, "harbor", seed_harbor)


@pytest.fixture(scope="session")
def harbor(harbor_seeded, work):
    with serving(harbor_seeded, work, HarborFacade, HARBOR_USERS) as facade:
        yield facade


@pytest.fixture
def harbor_expected(harbor_seeded):
    return harbor_seeded.expected
