"""kopf's "diff base" kept in memory: nothing of kopf's own is written to a site.

kopf remembers, per object, the essence (spec, labels, annotations) it last handled, to tell a creation
from an update and to give change handlers a diff. It stores it in an annotation of the object
(`kopf.zalando.org/last-handled-configuration`) and patches that annotation after every change it sees,
even with no handler to call. A level-based controller needs no diff, and SPEC.md allows no write when
nothing is to be done, so this storage keeps the essence in memory, by the object's uid.

What this costs: after a restart kopf has no diff base, so every object counts as new (a "creation"); the
controller reconciles every site at start anyway, so it changes nothing here.
"""

from __future__ import annotations

import copy

import kopf


class InMemoryDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    """The annotation storage's essence (which leaves kopf's own annotations out), kept in a dict instead."""

    def __init__(self) -> None:
        super().__init__()
        self._essences: dict[str, kopf.BodyEssence] = {}

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return self._essences.get(body.metadata.uid or "")

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        self._essences[body.metadata.uid or ""] = copy.deepcopy(essence)

    def forget(self, uid: str) -> None:
        """Drop a deleted object's essence (kopf does not tell a storage that an object is gone)."""
        self._essences.pop(uid, None)
