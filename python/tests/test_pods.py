"""Pod records and paginated listing."""

import json

from helpers import make_pod

from controller_examples.common.pods import PAGE_SIZE, REQUEST_TIMEOUT, PodQuery, PodRecord, list_pods, pod_record


def test_record_of_a_running_pod():
    pod = make_pod("web-0", resource_version="42")
    assert pod_record(pod) == PodRecord(
        namespace="demo",
        name="web-0",
        phase="Running",
        node="kwok-node-0",
        ready="1/1",
        restarts=0,
        containers=("app",),
        images=("nginx:1.27",),
        created="2025-01-01T00:00:00Z",
        resource_version="42",
    )


def test_every_container_counts_in_spec_order():
    pod = make_pod(
        "web-0",
        containers=(("a", "nginx:1.27"), ("b", "busybox"), ("c", "busybox")),
        ready=(True, False, True),
        restarts=(1, 0, 4),
    )
    record = pod_record(pod)
    assert record.containers == ("a", "b", "c")
    assert record.images == ("nginx:1.27", "busybox", "busybox")
    assert record.ready == "2/3"
    assert record.restarts == 5


def test_init_containers_count_in_neither_ready_nor_restarts():
    pod = make_pod("web-0", ready=(False,), restarts=(2,))
    pod["spec"]["initContainers"] = [{"name": "init", "image": "busybox"}]
    pod["status"]["initContainerStatuses"] = [{"name": "init", "ready": True, "restartCount": 7}]
    record = pod_record(pod)
    assert (record.ready, record.restarts, record.containers) == ("0/1", 2, ("app",))


def test_a_pod_without_status_or_node():
    pod = make_pod("new", phase=None, node=None, created=None)
    del pod["status"]
    record = pod_record(pod)
    assert (record.phase, record.node, record.ready, record.restarts, record.created) == ("", "", "0/1", 0, "")


def test_statuses_not_yet_reported():
    pod = make_pod("new", containers=(("a", "x"), ("b", "y")), phase="Pending")
    pod["status"] = {"phase": "Pending"}
    assert pod_record(pod).ready == "0/2"


class FakeResponse:
    def __init__(self, body: dict):
        self.data = json.dumps(body).encode()
        self.released = False

    def release_conn(self):
        self.released = True


class FakeCoreV1Api:
    """Serves `pods` in pages of `limit`, with `continue` tokens, recording every call."""

    def __init__(self, pods: list[dict]):
        self.pods = pods
        self.calls: list[dict] = []
        self.responses: list[FakeResponse] = []

    def list_namespaced_pod(self, namespace, **params):
        return self._page(dict(params, namespace=namespace))

    def list_pod_for_all_namespaces(self, **params):
        return self._page(dict(params, namespace=None))

    def _page(self, params):
        self.calls.append(params)
        start = int(params["_continue"] or 0)
        end = start + params["limit"]
        metadata = {"resourceVersion": f"rv-{len(self.calls)}"}
        if end < len(self.pods):
            metadata["continue"] = str(end)
        response = FakeResponse({"kind": "PodList", "metadata": metadata, "items": self.pods[start:end]})
        self.responses.append(response)
        return response


def test_list_follows_continue_tokens_and_sorts():
    pods = [make_pod(f"p{i:04}", namespace=("b", "a")[i % 2]) for i in range(1234)]
    api = FakeCoreV1Api(pods)
    listing = list_pods(PodQuery(api, None, "app=web"))
    assert [call["_continue"] for call in api.calls] == [None, "500", "1000"]
    assert all(call["limit"] == PAGE_SIZE for call in api.calls)
    assert all(call["label_selector"] == "app=web" for call in api.calls)
    assert all(call["_preload_content"] is False for call in api.calls)
    assert all(call["_request_timeout"] == REQUEST_TIMEOUT == (10, 30) for call in api.calls)
    assert all(call["namespace"] is None for call in api.calls)
    assert all(response.released for response in api.responses)
    assert len(listing.pods) == 1234
    assert [pod.key for pod in listing.pods] == sorted((pod.namespace, pod.name) for pod in listing.pods)
    assert listing.pods[0].key == ("a", "p0001")
    assert listing.resource_version == "rv-3"


def test_list_of_one_namespace():
    api = FakeCoreV1Api([])
    listing = list_pods(PodQuery(api, "demo", None))
    assert api.calls == [
        {
            "namespace": "demo",
            "limit": PAGE_SIZE,
            "_continue": None,
            "label_selector": None,
            "_preload_content": False,
            "_request_timeout": REQUEST_TIMEOUT,  # every request is bounded: (connect, read) seconds
        }
    ]
    assert (listing.pods, listing.resource_version) == ([], "rv-1")


def test_sort_is_by_namespace_then_name_in_byte_order():
    pods = [make_pod("b", "x"), make_pod("a", "y"), make_pod("B", "x"), make_pod("a-1", "x"), make_pod("a", "x")]
    listing = list_pods(PodQuery(FakeCoreV1Api(pods), None, None))
    assert [pod.key for pod in listing.pods] == [("x", "B"), ("x", "a"), ("x", "a-1"), ("x", "b"), ("y", "a")]
