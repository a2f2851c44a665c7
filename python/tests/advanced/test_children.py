"""Rendering the desired children, hashing the content, detecting drift and conflicts."""

import copy

from advanced.fakes import make_site
from controller_examples.advanced.children import (
    content_hash,
    desired_children,
    first_conflict,
    needs_apply,
    owner_reference,
    owner_site_key,
)

HELLO_HASH = "d6dc371b38f0551587ca3c18998a3d912f9f068a6ad09a8e93713a9bcbd8aff1"
LABELS = {
    "app.kubernetes.io/name": "staticsite",
    "app.kubernetes.io/instance": "hello",
    "app.kubernetes.io/managed-by": "staticsite-controller",
}
SELECTOR = {"app.kubernetes.io/name": "staticsite", "app.kubernetes.io/instance": "hello"}
OWNER = {
    "apiVersion": "sites.example.com/v1alpha1",
    "kind": "StaticSite",
    "name": "hello",
    "uid": "uid-1",
    "controller": True,
    "blockOwnerDeletion": True,
}


def test_content_hash_is_pinned():
    # sha256(b"a.txt\0x\0index.html\0<h1>hi</h1>\0"): the vector every language must reproduce.
    assert content_hash({"index.html": "<h1>hi</h1>", "a.txt": "x"}) == HELLO_HASH


def test_content_hash_orders_names_by_bytes_and_separates_them():
    assert content_hash({"b": "1", "B": "2"}) == content_hash({"B": "2", "b": "1"})
    assert content_hash({"ab": "c"}) != content_hash({"a": "bc"})


def test_desired_children_are_exactly_the_spec_table():
    site = make_site(content={"index.html": "<h1>hi</h1>", "a.txt": "x"})
    metadata = {"namespace": "demo", "labels": LABELS, "ownerReferences": [OWNER]}

    config_map, deployment, service = desired_children(site)

    assert config_map == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "hello-content", **metadata},
        "data": {"index.html": "<h1>hi</h1>", "a.txt": "x"},
    }
    assert deployment == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hello", **metadata},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": SELECTOR},
            "template": {
                "metadata": {"labels": LABELS, "annotations": {"sites.example.com/content-hash": HELLO_HASH}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27.3",
                            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                            "volumeMounts": [
                                {"name": "content", "mountPath": "/usr/share/nginx/html", "readOnly": True}
                            ],
                        }
                    ],
                    "volumes": [{"name": "content", "configMap": {"name": "hello-content"}}],
                },
            },
        },
    }
    assert service == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "hello", **metadata},
        "spec": {
            "type": "ClusterIP",
            "selector": SELECTOR,
            "ports": [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}],
        },
    }


def _as_the_server_returns_it(desired):
    """The applied object with what the API server and others add: defaults, status, extra labels."""
    actual = copy.deepcopy(desired)
    actual["metadata"].update(uid="child-uid", resourceVersion="7", managedFields=[{"manager": "x"}])
    actual["metadata"]["labels"]["team"] = "web"
    if desired["kind"] == "Deployment":
        template = actual["spec"]["template"]["spec"]
        template["containers"][0].update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log")
        template["volumes"][0]["configMap"]["defaultMode"] = 420
        template["dnsPolicy"] = "ClusterFirst"
        actual["spec"]["strategy"] = {"type": "RollingUpdate"}
        actual["status"] = {"replicas": 2}
    if desired["kind"] == "Service":
        actual["spec"].update(clusterIP="10.96.0.10", sessionAffinity="None")
    return actual


def test_nothing_to_apply_when_only_others_fields_differ():
    for desired in desired_children(make_site()):
        assert not needs_apply(desired, _as_the_server_returns_it(desired)), desired["kind"]


def test_nothing_to_apply_to_a_child_from_a_list_which_names_no_kind():
    # The informer's first list (a restarted controller's cache) holds items without apiVersion and kind.
    for desired in desired_children(make_site()):
        listed = _as_the_server_returns_it(desired)
        del listed["apiVersion"], listed["kind"]
        assert not needs_apply(desired, listed), desired["kind"]


def test_a_missing_child_needs_apply():
    assert all(needs_apply(desired, None) for desired in desired_children(make_site()))


def test_a_changed_field_we_set_needs_apply():
    _, deployment, service = desired_children(make_site())
    scaled = _as_the_server_returns_it(deployment)
    scaled["spec"]["replicas"] = 5
    retargeted = _as_the_server_returns_it(service)
    retargeted["spec"]["ports"][0]["targetPort"] = 8080

    assert needs_apply(deployment, scaled)
    assert needs_apply(service, retargeted)


def test_a_new_content_hash_needs_apply():
    old = desired_children(make_site(content={"index.html": "v1"}))[1]
    new = desired_children(make_site(content={"index.html": "v2"}))[1]

    assert needs_apply(new, _as_the_server_returns_it(old))


def test_a_file_removed_from_the_content_must_leave_the_config_map():
    before = desired_children(make_site(content={"index.html": "x", "old.html": "y"}))[0]
    after = desired_children(make_site(content={"index.html": "x"}))[0]

    assert needs_apply(after, _as_the_server_returns_it(before))


def test_an_item_another_manager_added_to_a_list_is_not_drift():
    deployment = desired_children(make_site())[1]
    actual = _as_the_server_returns_it(deployment)
    actual["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    actual["metadata"]["ownerReferences"].append({"kind": "Other", "uid": "x", "name": "y", "apiVersion": "v1"})

    assert not needs_apply(deployment, actual)


def _children(site, **overrides):
    children = {desired["kind"]: _as_the_server_returns_it(desired) for desired in desired_children(site)}
    children.update(overrides)
    return children


def test_no_conflict_when_the_site_controls_every_child():
    site = make_site()

    assert first_conflict(site, _children(site)) is None
    assert first_conflict(site, {"ConfigMap": None, "Deployment": None, "Service": None}) is None


def test_an_unowned_child_is_a_conflict():
    site = make_site()
    stranger = {"kind": "Deployment", "metadata": {"name": "hello", "namespace": "demo"}}

    assert first_conflict(site, _children(site, Deployment=stranger)) == ("Deployment", "hello")


def test_a_child_of_a_previous_site_with_the_same_name_is_a_conflict():
    site = make_site(uid="uid-2")
    children = _children(make_site(uid="uid-1"))

    assert first_conflict(site, children) == ("ConfigMap", "hello-content")  # the first, in kind order


def test_conflicts_are_reported_in_kind_order():
    site = make_site()
    service = {"kind": "Service", "metadata": {"name": "hello"}}
    deployment = {"kind": "Deployment", "metadata": {"name": "hello"}}

    assert first_conflict(site, _children(site, Service=service, Deployment=deployment)) == ("Deployment", "hello")


def test_a_child_leads_back_to_its_controlling_site():
    site = make_site(name="web", namespace="team")
    child = {"metadata": {"name": "web", "namespace": "team", "ownerReferences": [owner_reference(site)]}}
    not_controller = {
        "metadata": {
            "name": "x",
            "namespace": "team",
            "ownerReferences": [{**owner_reference(site), "controller": False}],
        }
    }
    foreign = {
        "metadata": {
            "name": "x",
            "namespace": "team",
            "ownerReferences": [{**owner_reference(site), "kind": "ReplicaSet"}],
        }
    }

    assert owner_site_key(child) == "team/web"
    assert owner_site_key(not_controller) is None
    assert owner_site_key(foreign) is None
    assert owner_site_key({"metadata": {"name": "staticsite-registry", "namespace": "team"}}) is None
