"""Track `advanced`: an events API that refuses every event never holds the sites back.

Events are for people: SPEC says one that cannot be written is logged and
ignored, and never fails or blocks a reconcile. The events API is made to
refuse every event in the test's namespace by a ValidatingAdmissionPolicy (in
the API server itself: no webhook to run). A ResourceQuota cannot do it: the
API server's quota system ignores events (``count/events`` is never enforced).
Every language writes core/v1 Events; the policy matches events.k8s.io too.
"""

from __future__ import annotations

import json

import pytest
from advanced_fixtures import start
from controllers import create_site, wait_ready
from kubernetes import client

from kube import kubectl, wait_for

pytestmark = pytest.mark.track("advanced")

REFUSAL = "events are refused in this namespace (conformance)"


def refuse_events(cluster, namespace: str) -> list[dict]:
    name = f"refuse-events-{namespace}"[:63]
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["", "events.k8s.io"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["events"],
                    }
                ]
            },
            "validations": [{"expression": "false", "message": REFUSAL}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}},
        },
    }
    objects = [policy, binding]
    kubectl(cluster, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    return objects


def event_refused(api, namespace: str) -> bool:
    probe = client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name="probe."),
        involved_object=client.V1ObjectReference(kind="ConfigMap", name="probe", namespace=namespace),
        reason="Probe",
        message="probe",
        type="Normal",
    )
    try:
        client.CoreV1Api(api).create_namespaced_event(namespace, probe)
    except client.ApiException as error:
        return REFUSAL in (error.body or "")
    return False


def test_sites_converge_while_every_event_is_refused(cluster, api, controllers, site_namespace, language):
    objects = refuse_events(cluster, site_namespace)
    try:
        wait_for(lambda: event_refused(api, site_namespace), timeout=60, what="the policy refusing events")
        start(controllers, language, site_namespace)
        for name in ("first", "second"):
            create_site(api, site_namespace, name, replicas=2)
        for name in ("first", "second"):
            wait_ready(api, site_namespace, name, ready_replicas=2)
        # (Not a single one got through: the probes made before the policy was in force are not about sites.)
        site_events = client.CoreV1Api(api).list_namespaced_event(
            site_namespace, field_selector="involvedObject.kind=StaticSite"
        )
        assert site_events.items == []
    finally:
        for obj in reversed(objects):
            kubectl(cluster, "delete", obj["kind"], obj["metadata"]["name"], "--ignore-not-found")
