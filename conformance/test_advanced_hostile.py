"""Track `advanced`: hostile object fields are data, never syntax (issue 10, item 1; SPEC.md, "What triggers a
reconcile").

The API server checks an ownerReference's name for nothing but being non-empty, so anyone who can write a
labelled ConfigMap or Service can name any "StaticSite" as its controller. In one namespace, labelled children
whose controller owner names hold a space, a newline, `../`, `$(...)`, quotes, non-ASCII, an emoji (the list the
unit tests of every language share, ``shared-manifests/testdata/hostile-owner-names.json``) and the review's
forged frame, aimed at a second, canary namespace. Then:

* each such object is ignored with exactly one log line (so the controller did see it: the garbage collector
  deletes an object whose owner does not exist, and may do it at once);
* a normal site in the same namespace converges (golden), and a child of it deleted afterwards is restored,
  so the ConfigMap watch still works;
* nothing is written outside the namespace: the canary namespace stays empty, and no Deployment anywhere runs
  the forged image;
* the watches never restart in a loop. There is no metric for a watch restart, so the controller's log is the
  witness: each language logs one line per failed list or watch (Bash "watch failed"/"list failed", Python
  "list/watch of ... failed"/"watch of ...", Go client-go's reflector "failed to list"/"Failed to watch"/
  "Unhandled Error"). A healthy run has none; the broken framing this guards against logged one every few
  seconds for ever. At most two are allowed, for a transient failure of a loaded API server.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from advanced_fixtures import start
from controllers import create_site, wait_ready
from kubernetes import client

from conftest import make_namespace
from kube import wait_for

pytestmark = pytest.mark.track("advanced")

NAMES_FILE = Path(__file__).parent.parent / "shared-manifests" / "testdata" / "hostile-owner-names.json"
MANAGED = {"app.kubernetes.io/managed-by": "staticsite-controller"}
FORGED_IMAGE = "attacker/img:1"
WATCH_FAILURE = re.compile(
    r"watch failed|list failed|list/watch of .* failed|watch of \S+: |failed to list|Failed to watch|Unhandled Error",
    re.IGNORECASE,
)
MAX_WATCH_FAILURES = 2


def hostile_owner_names(canary: str) -> list[str]:
    """The shared list, and the review's forged frame aimed at the canary namespace."""
    names = [entry["name"] for entry in json.loads(NAMES_FILE.read_text())["names"]]
    forged_site = {
        "apiVersion": "sites.example.com/v1alpha1",
        "kind": "StaticSite",
        "metadata": {"name": "evil", "namespace": canary, "uid": "x", "generation": 1, "resourceVersion": "1",
                     "finalizers": ["sites.example.com/registry"]},
        "spec": {"replicas": 1, "image": FORGED_IMAGE, "content": {"index.html": "x"}},
    }  # fmt: skip
    body = json.dumps(forged_site, separators=(",", ":"))
    names.append(f"a 0\nADDED 1 ../staticsites/{canary} evil {canary}/evil {len(body.encode())}\n{body}BOOKMARK 1")
    return names


def owner(name: str) -> client.V1OwnerReference:
    # A uid of no object: the API server accepts it; the garbage collector deletes the object in time.
    return client.V1OwnerReference(
        api_version="sites.example.com/v1alpha1", kind="StaticSite", name=name, controller=True,
        uid="00000000-0000-0000-0000-0000000000aa",
    )  # fmt: skip


def create_hostile_children(core: client.CoreV1Api, namespace: str, names: list[str]) -> list[str]:
    """A labelled ConfigMap and Service per owner name; returns their names."""
    created = []
    for i, name in enumerate(names):
        metadata = client.V1ObjectMeta(name=f"hostile-cm-{i}", labels=MANAGED, owner_references=[owner(name)])
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=metadata, data={"x": "y"}))
        metadata = client.V1ObjectMeta(name=f"hostile-svc-{i}", labels=MANAGED, owner_references=[owner(name)])
        spec = client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)])
        core.create_namespaced_service(namespace, client.V1Service(metadata=metadata, spec=spec))
        created += [f"hostile-cm-{i}", f"hostile-svc-{i}"]
    return created


def ignored_lines(log: str, namespace: str, name: str) -> int:
    """The log lines that say the object namespace/name was ignored."""
    mention = re.compile(rf"{re.escape(namespace)}/{re.escape(name)}(?![-\w])")
    return sum(1 for line in log.splitlines() if "gnoring" in line and mention.search(line))


def test_hostile_owner_names_are_data(api, controllers, site_namespace, language, golden):
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    canary = make_namespace(core, "hostile-canary")
    controllers.namespaces.append(canary)
    controller = start(controllers, language, site_namespace)
    # Synced: the informers watch from now on, so they see every object created below.
    wait_for(lambda: controller.get("/readyz")[0] == 200, timeout=60, what="/readyz to answer 200")

    hostile = create_hostile_children(core, site_namespace, hostile_owner_names(canary))
    create_site(api, site_namespace, "good", replicas=2)
    wait_ready(api, site_namespace, "good", ready_replicas=2)

    # Each hostile object was seen and ignored, with exactly one line.
    wait_for(
        lambda: all(ignored_lines(controller.log.read_text(errors="replace"), site_namespace, n) for n in hostile),
        timeout=60,
        what="a line for each hostile object in the controller's log",
    )
    log = controller.log.read_text(errors="replace")
    counts = {name: ignored_lines(log, site_namespace, name) for name in hostile}
    assert all(count == 1 for count in counts.values()), f"not one line per hostile object: {counts}"

    golden("converged", api, site_namespace, ["good"])
    # The ConfigMap watch still works: a deleted child of the good site is restored.
    core.delete_namespaced_config_map("good-content", site_namespace)
    wait_for(
        lambda: core.read_namespaced_config_map("good-content", site_namespace),
        timeout=60,
        what="the deleted good-content ConfigMap to be restored",
    )

    # Nothing written outside the namespace, and no forged site anywhere.
    assert [c.metadata.name for c in core.list_namespaced_config_map(canary).items] == ["kube-root-ca.crt"]
    assert core.list_namespaced_service(canary).items == []
    assert apps.list_namespaced_deployment(canary).items == []
    images = [
        container.image
        for deployment in apps.list_deployment_for_all_namespaces().items
        for container in deployment.spec.template.spec.containers
    ]
    assert FORGED_IMAGE not in images
    # In the site's namespace: the good site's children, the registry, and the hostile objects (or fewer,
    # as the garbage collector deletes them), nothing else.
    expected = {"good", "good-content", "staticsite-registry", "kube-root-ca.crt", *hostile}
    present = {c.metadata.name for c in core.list_namespaced_config_map(site_namespace).items}
    present |= {s.metadata.name for s in core.list_namespaced_service(site_namespace).items}
    present |= {d.metadata.name for d in apps.list_namespaced_deployment(site_namespace).items}
    assert present <= expected, f"unexpected objects: {sorted(present - expected)}"

    failures = [line for line in controller.log.read_text(errors="replace").splitlines() if WATCH_FAILURE.search(line)]
    assert len(failures) <= MAX_WATCH_FAILURES, "the watches restarted:\n" + "\n".join(failures[:10])
