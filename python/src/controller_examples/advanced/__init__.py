"""The advanced track: the StaticSite controller, the behaviour of shared-manifests/SPEC.md.

Read it in this order, following one site key from an event to the cluster:

- `site`: the StaticSite API as the controller sees it, and every constant of its vocabulary (group,
  version, finalizer, labels, field manager, reasons, the URL rule).
- `informer`: list+watch caches of sites and of the controller's children; their handlers enqueue keys.
- `queue`: the work queue (de-duplication, one worker per key, per-key exponential backoff), and the
  workers that drain it into the reconciler, with the retry policy.
- `reconciler`: the level-based sync of one site, in SPEC.md's numbered steps; it uses
  `children` (the desired objects, drift and conflicts), `status` (the Ready condition),
  `registry` (the namespace's list of sites, kept by the finalizer), `events` and `api` (every request).
- `leader`: leader election with a Lease.
- `endpoints`: /healthz, /readyz and /metrics.
- `options`: the command line, parsed once into an `Options` dataclass.
- `manager`: the wiring of all of the above, and the process's lifecycle; run it with
  `python -m controller_examples.advanced.manager --help`.
"""
