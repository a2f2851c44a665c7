"""Finding the cluster, the way kubectl does, and building an API client for it.

kubectl looks for its configuration in this order (see "Connecting" in conformance/CONTRACT.md):

1. `--kubeconfig PATH`: that file, which must exist;
2. else `$KUBECONFIG`: a `:`-separated list of files, merged; files that do not exist are skipped;
3. else `~/.kube/config`;
4. and when none of these exists, the pod's service account ("in-cluster" configuration).

Merging follows one rule: the first file that sets a value wins. A kubeconfig names clusters (server URL,
CA certificate), users (credentials) and contexts (a cluster, a user and optionally a namespace), and its
`current-context` says which context to use unless `--context` picks another.

The official client's `kubernetes.config.load_kube_config` does the hard part: it merges the files, reads
certificates and tokens, runs exec credential plugins. Two things it does not give us, so we read them
from the files ourselves: the context's namespace (our default namespace), and the current context when
several files set one (its merger lets the last file win, kubectl the first).
"""

import os
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.config import ConfigException

from controller_examples.common.errors import CommandError, one_line

DEFAULT_KUBECONFIG = "~/.kube/config"
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


@dataclass(frozen=True)
class Connection:
    """An API client for one cluster, and what the programs need to know about it."""

    api: client.CoreV1Api
    host: str  # the API server's URL, for error messages
    namespace: str  # the namespace to use when the command line names none


def connect(kubeconfig: str | None, context: str | None) -> Connection:
    """Configure a client from `--kubeconfig`/`$KUBECONFIG`/`~/.kube/config`, else in-cluster.

    Raises CommandError, with a message containing "kubeconfig", when no usable configuration is found.
    """
    configuration, namespace = load_configuration(kubeconfig, context)
    api = client.CoreV1Api(client.ApiClient(configuration))
    return Connection(api=api, host=configuration.host, namespace=namespace)


def load_configuration(kubeconfig: str | None, context: str | None) -> tuple[client.Configuration, str]:
    """The client configuration `connect` uses, and the default namespace, for a program that builds its own
    API clients from it (the controller sizes its connection pool first).

    Raises CommandError, with a message containing "kubeconfig", when no usable configuration is found.
    """
    configuration = client.Configuration()
    paths = kubeconfig_paths(kubeconfig)
    if paths:
        namespace = _load_kubeconfig(configuration, paths, context)
    elif context is not None:
        raise CommandError(f'no kubeconfig found (looked at {_looked_at()}), so no context "{context}"')
    else:
        namespace = _load_in_cluster(configuration)
    refuse_unverified_tls(configuration)
    # By default urllib3 retries a failed request three times, so an unreachable server costs four
    # attempts (each up to a connect timeout) before the error shows, and each retry logs a warning. We
    # want the error at once: list-pods reports it, and watch-pods has its own reconnect loop with backoff.
    # False (rather than 0) also makes urllib3 raise the original error, not a MaxRetryError around it.
    configuration.retries = False
    # TCP keepalive, as client-go sets it, so that a watch notices a peer that vanished without closing.
    configuration.keep_alive = True
    return configuration, namespace


def refuse_unverified_tls(configuration: client.Configuration) -> None:
    """Refuse a configuration that turns TLS verification off.

    A kubeconfig's `insecure-skip-tls-verify: true` makes the client talk to whoever answers at the server's
    address, and hand it our credentials. The official client honours it (verify_ssl becomes False); the
    contract says TLS is always verified, so we stop here instead. The controller, which connects through this
    function too, refuses it as well.
    """
    if not configuration.verify_ssl:
        raise CommandError(
            "TLS verification is turned off in the kubeconfig (insecure-skip-tls-verify: true); "
            "refusing to connect without it"
        )


def kubeconfig_paths(explicit: str | None) -> list[str]:
    """The kubeconfig files to merge, in order; empty when there are none (then we try in-cluster)."""
    if explicit is not None:
        if not os.path.isfile(explicit):
            raise CommandError(f"kubeconfig {explicit} does not exist or is not a file")
        return [explicit]
    candidates = (os.path.expanduser(path) for path in _looked_at().split(os.pathsep) if path)
    return [path for path in candidates if os.path.exists(path)]


def context_and_namespace(paths: list[str], context: str | None) -> tuple[str, str]:
    """The context to use and its namespace ("default" when it sets none), first file winning."""
    documents = [_read_yaml(path) for path in paths]
    name = context or next((doc["current-context"] for doc in documents if doc.get("current-context")), "")
    if not name:
        raise ConfigException("no current-context is set; choose a context with --context")
    for document in documents:
        for entry in document.get("contexts") or []:
            if entry.get("name") == name:
                return name, (entry.get("context") or {}).get("namespace") or "default"
    raise ConfigException(f'no context named "{name}"')


def _load_kubeconfig(configuration: client.Configuration, paths: list[str], context: str | None) -> str:
    try:
        name, namespace = context_and_namespace(paths, context)
        # persist_config=False: never write back to the user's kubeconfig (the client can, to store a
        # refreshed token).
        config.load_kube_config(
            config_file=os.pathsep.join(paths),
            context=name,
            client_configuration=configuration,
            persist_config=False,
        )
    except Exception as error:
        # The loader is not defensive: a malformed file surfaces as ConfigException, yaml.YAMLError,
        # KeyError, TypeError... All of them mean the same thing to the user: fix the kubeconfig.
        raise CommandError(f"kubeconfig {os.pathsep.join(paths)}: {one_line(error)}") from error
    return namespace


def _load_in_cluster(configuration: client.Configuration) -> str:
    try:
        config.load_incluster_config(client_configuration=configuration)
    except ConfigException as error:
        raise CommandError(
            f"no kubeconfig found (looked at {_looked_at()}) and no in-cluster configuration: {one_line(error)}"
        ) from error
    # Inside a pod, kubectl's default namespace is the pod's own, which the service account mounts.
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE, encoding="utf-8") as file:
            return file.read().strip() or "default"
    except OSError:
        return "default"


def _looked_at() -> str:
    """Where kubeconfig files are looked for when --kubeconfig is not given."""
    return os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG


def _read_yaml(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as file:
        document = yaml.safe_load(file)
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigException(f"{path} is not a kubeconfig file (not a YAML mapping)")
    return document
