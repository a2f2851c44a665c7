"""Running a StaticSite controller under test, and the sites it manages.

The controller runs as a real process with the ServiceAccount credentials of
``shared-manifests/rbac`` — never as admin — so a missing RBAC rule fails the
scenario that needs it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from kubernetes import client

from clusterkit.local import free_ports
from clusterkit.versions import REPO_ROOT

from implementations import command
from kube import kubectl, service_account_kubeconfig, wait_for
from programs import environment

MANIFESTS = REPO_ROOT / "shared-manifests"
GROUP, VERSION, PLURAL = "sites.example.com", "v1alpha1", "staticsites"
CONTROLLER_NAMESPACE = "staticsite-system"
CONTROLLER_ACCOUNT = "staticsite-controller"
CONTROLLER_USER = f"system:serviceaccount:{CONTROLLER_NAMESPACE}:{CONTROLLER_ACCOUNT}"  # as the API server names it
LEASE_NAME = "staticsite-controller"
FINALIZER = "sites.example.com/registry"
REGISTRY = "staticsite-registry"
STOP_TIMEOUT = 30
# How long a controller may take to serve /healthz after it starts: imports,
# flag parsing and binding the ports (the Python client alone takes about a
# second to import on 2 cores; a loaded CI machine may take several).
SERVING_TIMEOUT = 60


def install_api_and_rbac(cluster) -> None:
    """The CRD and the controller's RBAC, as a user would install them."""
    kubectl(cluster, "apply", "-f", str(MANIFESTS / "crd"), "-f", str(MANIFESTS / "rbac"))
    kubectl(cluster, "wait", "--for=condition=Established", "crd/staticsites.sites.example.com", "--timeout=60s")


def controller_kubeconfig(cluster, api, path: Path, lifetime_seconds: int = 3600) -> Path:
    return service_account_kubeconfig(cluster, api, CONTROLLER_NAMESPACE, CONTROLLER_ACCOUNT, path, lifetime_seconds)


class Controller:
    """One controller process; its log is kept for the failure message."""

    def __init__(self, cluster, language: str, kubeconfig: Path | None, log_dir: Path, *args: str,
                 env: dict[str, str] | None = None, wrapper: list[str] | None = None):  # fmt: skip
        prefix = command("advanced", language)
        assert prefix is not None, f"no {language} controller"
        self.language = language
        self.health_port, self.metrics_port = free_ports(2)
        self.identity = f"{language}-{self.health_port}"
        self.log = log_dir / f"controller-{self.identity}.log"
        argv = [
            *(wrapper or []),
            *prefix,
            f"--health-addr=127.0.0.1:{self.health_port}",
            f"--metrics-addr=127.0.0.1:{self.metrics_port}",
            f"--identity={self.identity}",
            *args,
        ]
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env or environment(cluster, kubeconfig),
                start_new_session=True,  # the whole group is signalled, helpers included
            )

    def wait_serving(self, timeout: float = SERVING_TIMEOUT) -> None:
        """Poll /healthz until it answers 200; fail at once if the process exits first.

        /healthz is served from start-up, before informers sync and whether or
        not this replica leads, so after this every endpoint of the process is up.
        """

        def serving():
            exit_code = self.process.poll()
            if exit_code is not None:
                raise AssertionError(
                    f"{self.language} controller exited {exit_code} before serving /healthz:\n{self.log_tail()}"
                )
            return self.get("/healthz")[0] == 200

        wait_for(serving, timeout=timeout, what=f"{self.language} controller {self.identity} to serve /healthz")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL the whole process group: no chance to clean up, as in a node crash."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise AssertionError(f"{self.language} controller still running {timeout}s after SIGTERM") from error

    def group_members(self) -> list[str]:
        """The processes left in the controller's process group ("PID COMMAND"), from /proc: after an orderly
        exit there must be none (a helper that ignores SIGTERM would outlive every stop)."""
        members = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                text = stat.read_text()
                command, _, rest = text.partition("(")[2].rpartition(")")
                if rest.split()[2] == str(self.process.pid):  # after ") ": state, ppid, pgrp
                    members.append(f"{stat.parent.name} {command}")
        return members

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        # Nothing of the controller may outlive it (the Bash track's kubectl children).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def get(self, path: str, port: int | None = None) -> tuple[int, str]:
        url = f"http://127.0.0.1:{port or self.health_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""
        except OSError:
            return 0, ""

    def metrics(self) -> dict[str, float]:
        """The controller's Prometheus samples, by name+labels as printed."""
        status, body = self.get("/metrics", self.metrics_port)
        assert status == 200, f"{self.language} controller /metrics answered {status}"
        samples = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


# ----- sites ------------------------------------------------------------------------
def custom(api) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


# The default page is not ASCII on purpose: accents, CJK, and characters beyond U+FFFF (emoji, a ZWJ sequence,
# a flag, a mathematical letter) must reach the ConfigMap intact in every language. (The Python reference once
# could not send them: its apply body escaped them as UTF-16 surrogate pairs, which the API server's YAML
# parser refuses.)
SAMPLE_TEXT = "h\u00e9llo, \u4f60\u597d, \U0001f600 \U0001f469\u200d\U0001f467 \U0001f1eb\U0001f1f7 \U0001d400"


def site_manifest(name: str, replicas: int = 1, content: dict | None = None) -> dict:
    page = f"<h1>{name}</h1>\n<p>{SAMPLE_TEXT}</p>\n"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "StaticSite",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "content": content or {"index.html": page}},
    }


def create_site(api, namespace: str, name: str, **kwargs) -> dict:
    return custom(api).create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, site_manifest(name, **kwargs))


def get_site(api, namespace: str, name: str) -> dict | None:
    try:
        return custom(api).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise


def patch_site_spec(api, namespace: str, name: str, spec: dict) -> dict:
    return custom(api).patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, {"spec": spec})


def ready_condition(site: dict | None) -> dict:
    for condition in ((site or {}).get("status") or {}).get("conditions") or []:
        if condition["type"] == "Ready":
            return condition
    return {}


def wait_ready(api, namespace: str, name: str, timeout: float = 120, reason: str = "Available",
               ready_replicas: int | None = None) -> dict:  # fmt: skip
    """Wait for Ready with ``reason`` for the site's current generation."""

    def check():
        site = get_site(api, namespace, name)
        condition = ready_condition(site)
        status = (site or {}).get("status") or {}
        return (
            condition.get("reason") == reason
            and status.get("observedGeneration") == site["metadata"]["generation"]
            and (ready_replicas is None or status.get("readyReplicas", 0) == ready_replicas)
            and site
        )

    return wait_for(check, timeout=timeout, what=f"site {namespace}/{name} Ready reason {reason}")


def delete_all_sites(api, namespace: str, timeout: float) -> bool:
    """Delete every site and wait for the controller to finalize them."""
    sites = custom(api).list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
    for site in sites:
        custom(api).delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, site["metadata"]["name"])
    try:
        wait_for(
            lambda: not custom(api).list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"],
            timeout=timeout,
            what=f"sites in {namespace} to be finalized",
        )
        return True
    except AssertionError:
        return False


def strip_finalizers(api, namespace: str) -> None:
    """Teardown after a broken controller: never leave a namespace stuck."""
    for site in custom(api).list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]:
        custom(api).patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, site["metadata"]["name"], {"metadata": {"finalizers": None}}
        )


def lease_holder(api) -> str:
    try:
        lease = client.CoordinationV1Api(api).read_namespaced_lease(LEASE_NAME, CONTROLLER_NAMESPACE)
    except client.ApiException as error:
        if error.status == 404:
            return ""
        raise
    return lease.spec.holder_identity or ""
