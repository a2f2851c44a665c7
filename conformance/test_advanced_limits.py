"""Track `advanced`: content at the limits of what one ConfigMap holds.

The CRD refuses at admission what cannot fit (a CEL rule counts the UTF-8
bytes: ``maxLength`` counts characters), so the largest admissible site
converges and a byte more is refused by ``kubectl apply`` with a message that
names the limit. A site stored before that rule existed (here: the rule taken
out of the CRD for a moment) reaches the controller, which reports it as
``InvalidSpec`` with its size, writes no child and does not retry.
"""

from __future__ import annotations

import json

import pytest
from advanced_fixtures import start
from controllers import MANIFESTS, create_site, get_site, ready_condition, site_manifest, wait_ready
from kubernetes import client

from kube import kubectl, wait_for

pytestmark = pytest.mark.track("advanced")

EMOJI = "\U0001f600"  # 4 bytes in UTF-8, one character to maxLength
LIMIT = 1048576
SIZE_MESSAGE = "content is too large: file names and bodies must total at most 1048576 bytes (1 MiB) in UTF-8"
CRD = "staticsites.sites.example.com"
RULES_PATH = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/content/x-kubernetes-validations"


def largest_content() -> dict[str, str]:
    """Exactly 1 MiB of names and bodies: 16 names of 3 bytes, 15 bodies of 16384 emoji and one of 16372."""
    content = {f"f{i:02d}": EMOJI * 16384 for i in range(15)}
    content["f15"] = EMOJI * 16372
    assert sum(len(name.encode()) + len(body.encode()) for name, body in content.items()) == LIMIT
    return content


def apply_site(cluster, namespace: str, manifest: dict, check: bool = True):
    """`kubectl apply --server-side` (client-side apply keeps a copy in a 256 KiB annotation: too small)."""
    body = json.dumps(manifest, ensure_ascii=False)  # UTF-8 as it is: 4 bytes an emoji, not 12 of escapes
    return kubectl(cluster, "apply", "--server-side", "-n", namespace, "-f", "-", stdin=body, check=check)


def test_largest_content_converges_and_a_byte_more_is_refused(cluster, api, controllers, site_namespace, language):
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "neighbour")
    content = largest_content()
    apply_site(cluster, site_namespace, site_manifest("largest", content=content))

    refused = apply_site(
        cluster, site_namespace, site_manifest("over", content={**content, "f15": content["f15"] + "a"}), check=False
    )
    assert refused.returncode != 0
    assert SIZE_MESSAGE in refused.stderr
    assert get_site(api, site_namespace, "over") is None

    wait_ready(api, site_namespace, "largest", timeout=180)
    wait_ready(api, site_namespace, "neighbour")
    written = client.CoreV1Api(api).read_namespaced_config_map("largest-content", site_namespace)
    assert written.data == content


@pytest.mark.alone("it takes the size rule out of the one StaticSite CRD for a moment")
def test_too_large_content_stored_before_the_rule_is_invalid_spec(cluster, api, controllers, site_namespace, language):
    create_site(api, site_namespace, "neighbour")
    too_large = {f"f{i:02d}": EMOJI * 16384 for i in range(20)}  # maxLength lets it in: 1310780 bytes
    manifest = site_manifest("toolarge", content=too_large)
    with size_rule_removed(cluster):
        admitted = lambda: apply_site(cluster, site_namespace, manifest, check=False).returncode == 0  # noqa: E731
        wait_for(admitted, timeout=60, what="the API server to admit a site without the size rule")
    # The controller starts once the CRD is whole again: while its storage is rebuilt, a write may meet a 409
    # and be retried, which is right, but would count as the error this scenario says must not happen.
    controller = start(controllers, language, site_namespace)

    message = "content is 1310780 bytes: a ConfigMap holds at most 1048576 bytes (1 MiB) of file names and bodies"
    site = wait_ready(api, site_namespace, "toolarge", reason="InvalidSpec", timeout=120)
    assert ready_condition(site)["message"] == message
    assert (
        client.CoreV1Api(api)
        .list_namespaced_config_map(site_namespace, field_selector="metadata.name=toolarge-content")
        .items
        == []
    )
    # The Warning goes with the change of status. A reconcile that reads the site from a cache the status
    # write has not reached yet (a registry change re-enqueues a site without a key) may write it twice:
    # every copy must name the size.
    wait_for(
        lambda: set(invalid_spec_events(api, site_namespace, "toolarge")) == {message},
        timeout=60,
        what="Warning InvalidSpec events naming the size",
    )
    wait_ready(api, site_namespace, "neighbour")
    # Reported, not retried: no reconcile of the namespace failed (a retry with backoff counts as an error).
    assert metric_sample(controller, 'staticsite_reconcile_total{result="error"}') == 0


def invalid_spec_events(api, namespace: str, name: str) -> list[str]:
    events = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.kind=StaticSite,involvedObject.name={name},reason=InvalidSpec"
    )
    return [event.message for event in events.items if event.type == "Warning"]


def metric_sample(controller, sample: str) -> float:
    return controller.metrics().get(sample, 0.0)


class size_rule_removed:
    """The CRD without its size rule, for a moment (as an older CRD was); restored, and in force, on exit."""

    def __init__(self, cluster):
        self.cluster = cluster

    def __enter__(self):
        crd = json.loads(kubectl(self.cluster, "get", "crd", CRD, "-o", "json").stdout)
        rules = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        index = next(
            i
            for i, rule in enumerate(rules["content"]["x-kubernetes-validations"])
            if SIZE_MESSAGE in rule.get("message", "")
        )
        patch = [{"op": "remove", "path": f"{RULES_PATH}/{index}"}]
        kubectl(self.cluster, "patch", "crd", CRD, "--type=json", "-p", json.dumps(patch))

    def __exit__(self, *exc):
        kubectl(self.cluster, "apply", "-f", str(MANIFESTS / "crd"))
        probe = site_manifest("probe", content={"f": EMOJI * 16384, **{f"g{i}": EMOJI * 16384 for i in range(19)}})

        def refused_again():
            result = kubectl(
                self.cluster,
                "create",
                "--dry-run=server",
                "-n",
                "default",
                "-f",
                "-",
                stdin=json.dumps(probe, ensure_ascii=False),
                check=False,
            )
            return result.returncode != 0 and SIZE_MESSAGE in result.stderr

        wait_for(refused_again, timeout=60, what="the size rule to be in force again")
        return False
