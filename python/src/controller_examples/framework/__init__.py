"""The StaticSite controller built with a framework: kopf (docs/frameworks.md).

The same behaviour as the hand-built controller of `controller_examples.advanced` (shared-manifests/SPEC.md),
held to the same conformance scenarios. kopf replaces the informers, the work queue and the workers; the
reconciler, the children, the status, the registry and the events are the advanced track's, imported.

- `kopf_handlers`: the indexes, the event handlers, one daemon per site, the delete handler.
- `kopf_diffbase`: kopf's "diff base" kept in memory, so kopf writes nothing of its own to a site.
- `kopf_operator`: the command line, kopf's settings, and the Lease, health and metrics kopf does not give;
  run it with `python -m controller_examples.framework.kopf_operator --help`.
"""
