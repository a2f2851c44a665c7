"""The exercises, and the learner's workspace they are cut into.

An exercise is a behaviour the reference code has in one function per language, between ``exercise: <id>``
markers. ``make exercise LANG=python STEP=finalizer`` copies that language's code into ``workspace/<language>/``
(git-ignored) with the function's body replaced by a stub and a hint; ``make check`` then runs the scenarios that
exercise is about against the workspace's program. The code is never forked: a new workspace is always cut from
the reference as it is now.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from course import markers

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = REPO_ROOT / "workspace"
LANGUAGES = ("python", "go", "bash")


@dataclass(frozen=True)
class UnitTests:
    """A language's own unit tests that grade an exercise no scenario can observe reliably (a queue's
    de-duplication shows in a running controller only by timing). They run against the workspace's code; the
    test file is always the repository's (a learner's copy could have drifted)."""

    path: str  # the test file, from the repository's root
    # test name -> what its failure means, in a learner's words (a test not named here is shown by its name)
    missing: dict[str, str]


@dataclass(frozen=True)
class WrongAnswer:
    """A plausible wrong body of the exercise's function: CI writes it in and proves the grading rejects it."""

    name: str
    body: str  # the function's body, without the region's indentation
    caught_by: str  # the unit test that must fail


@dataclass(frozen=True)
class Exercise:
    id: str
    track: str
    goal: str  # what the learner's function must do, in one sentence
    hint: str  # the stub's comment: where to look and what to call
    scenarios: tuple[str, ...]  # the suite's scenarios that grade it; the first one that fails is decisive
    missing: str  # what a failure of those scenarios means, in a learner's words
    # The building blocks around the stub in each language (helpers to call, variables to set), when the hint
    # alone would leave a learner guessing.
    tools: dict[str, str] = field(default_factory=dict)
    # Languages whose reference has no function of its own for this behaviour (a library does it), and why.
    not_in: dict[str, str] = field(default_factory=dict)
    # Languages whose unit tests grade the exercise first: the scenarios run only once they pass.
    unit_tests: dict[str, UnitTests] = field(default_factory=dict)
    wrong_answers: dict[str, tuple[WrongAnswer, ...]] = field(default_factory=dict)

    def hint_for(self, language: str) -> str:
        extra = self.tools.get(language)
        return f"{self.hint}\n{extra}" if extra else self.hint


# What a failing queue unit test means (queue-dedup), in the learner's words.
QUEUED_TWICE = "a key added twice while it waited was queued twice: a key already waiting must not be added again"
PROCESSING_NOT_MARKED = (
    "a key added again while a worker processed it was queued at once (a second worker could take it) or never "
    "came back: only mark it, and let done queue it again"
)
QUEUED_AFTER_DONE = "a key came back after done although nobody added it again while it was processed"

EXERCISES: dict[str, Exercise] = {
    e.id: e
    for e in (
        Exercise(
            "pagination",
            "basics",
            "List the pods page by page: ask for at most 500, then follow the continue token until it is empty.",
            "Ask for a page with limit=500 (and continue=<token> after the first);\n"
            "the page's metadata.continue is the next token; the last page's metadata.resourceVersion is the list's;\n"
            "every page asks with the same label selector (--selector) as the first.",
            ("one_pod", "pagination_1500_pods", "label_selector"),
            "your program does not list every pod yet: a list must follow metadata.continue until it is empty",
            {
                "python": "Python: query.request(limit=PAGE_SIZE, _continue=token) answers one page; json.loads its\n"
                "response.data, release_conn() it, yield the page.",
                "go": "Go: pods.List(ctx, opts) with opts.Limit = PageSize and opts.Continue; visit each item;\n"
                'wrap a failure as &cli.CallError{Verb: "list", Err: err}.',
                "bash": 'Bash: kube_get "$(pods_url "$NAMESPACE" limit=500 "continue=$token" ...)" FILE\n'
                'fetches a page; pods_jq ".items[] | $entry" FILE makes the lines; set LIST_RESOURCE_VERSION;\n'
                "sort at the end.",
            },
        ),
        Exercise(
            "resume-from-resource-version",
            "intermediate",
            "Start each watch from the last resourceVersion seen, so nothing between the list and the watch is missed.",
            "Open a watch (watch=true, allowWatchBookmarks=true) from the resourceVersion remembered so far,\n"
            "with the same label selector (--selector) as the list; every event (and every BOOKMARK) moves that\n"
            "resourceVersion on.",
            (
                "existing_pods_appear_as_added_first",
                "scripted_sequence_matches_the_api",
                "label_selector_filters_the_list_and_the_watch",
            ),
            "your watcher does not follow changes from where its list ended, or not only its selector's pods: "
            "watch from the list's resourceVersion, with the list's label selector",
            {
                "python": "Python: self._query.request(watch=True, resource_version=..., allow_watch_bookmarks=True,\n"
                "timeout_seconds=WATCH_TIMEOUT_SECONDS, timeout=WATCH_REQUEST_TIMEOUT); iter_resp_lines(response)\n"
                "gives one JSON event a line; close() and release_conn() the response at the end.",
                "go": "Go: w.Watches.Watch(ctx, metav1.ListOptions{ResourceVersion: w.resourceVersion, ...});\n"
                "read stream.ResultChan() until it closes or ctx is done; w.apply(event) prints and records each.",
                "bash": "Bash: start_stream URL opens the stream, URL from\n"
                'pods_url "$NAMESPACE" watch=1 "resourceVersion=$RESOURCE_VERSION" ...; read the events from\n'
                "STREAM_FD; emit ADDED/MODIFIED/DELETED; an ERROR with code 410 sets WATCH_ENDED=expired;\n"
                "on_watch_failure handles a failed request.",
            },
        ),
        Exercise(
            "relist-on-410",
            "intermediate",
            "When a watch ends with 410 Gone, list again and print only the difference, then watch from the new list.",
            "Loop: watch; when it ends with 410 (Expired/Gone) list again at once and print the difference;\n"
            "any other passing failure: wait (backoff) and resume from the last resourceVersion.",
            ("existing_pods_appear_as_added_first", "expired_resource_version_relists"),
            "your watcher does not recover from 410 Gone: after an expired watch it must list again and print "
            "the difference",
            {
                "python": "Python: self._catch_up(listing) prints the difference; self._follow(delays) watches;\n"
                "http_status(error) == 410 is expiry; is_worth_retrying(error); self._sleep(delays.next()).",
                "go": "Go: w.catchUp(first), w.follow(ctx), w.relist(ctx); isExpired(err), isWorthRetrying(err);\n"
                "sleep(ctx, backoff.Step()); return nil once ctx is done.",
                "bash": "Bash: watch_once sets WATCH_ENDED to expired or dropped; relist_until_done lists again;\n"
                "backoff waits before a reconnect.",
            },
        ),
        Exercise(
            "finalizer",
            "advanced",
            "For a site being deleted: remove its key from the registry, then remove the finalizer.",
            "The site has a deletionTimestamp: remove its key from the registry ConfigMap first,\n"
            "then remove the finalizer (the API server deletes the site once no finalizer is left).",
            ("level_finalizer_and_registry", "delete_removes_registry_key_and_children"),
            "deleted sites are not finalized yet: drop the site's registry key, then its finalizer",
            {
                "bash": 'Bash (jq): the plan is lines, line(VERB; [ARGS]): line("registry-remove"; [{data: {(NAME):\n'
                'null}}]), then line("finalizer-remove"; [{metadata: {finalizers: [the others], resourceVersion:\n'
                "...}}]); empty when has_finalizer is false. reconciler.sh carries the lines out, in order.",
            },
        ),
        Exercise(
            "compare-before-write",
            "advanced",
            "Decide whether a live child differs from the desired one, so an unchanged child is never written.",
            "Compare only the fields this controller sets (labels, owner, the spec it applies) with the live object;\n"
            "a child that matches needs no write. apiVersion and kind name the object: a list's items (a restarted\n"
            "controller's cache) carry neither, so leave them out.",
            ("level_children", "noop_reconcile_writes_nothing", "restarted_controller_writes_nothing"),
            "your controller writes children that did not change: compare the live child with the desired one first",
            {
                "go": "Go: a nil actual is a missing child; asJSON both; the objects from the cache carry no\n"
                "apiVersion and kind (the desired apply configuration does): leave those two out; a ConfigMap's data\n"
                "must be equal (orEmpty); anything else: !contains(have, want).",
                "python": "Python: None is a missing child; a ConfigMap's data must be equal; anything else:\n"
                "not _contains(actual, desired without apiVersion and kind).",
            },
        ),
        Exercise(
            "queue-dedup",
            "advanced",
            "Add a key to the work queue: a key already waiting is not added twice; one being processed is re-queued.",
            "If the key is already waiting, do nothing; if a worker is processing it, mark it to run again\n"
            "when that worker is done; otherwise append it and wake a worker.",
            ("level_children", "noop_reconcile_writes_nothing"),
            "your work queue does not hand keys to the workers correctly: each key waits once, and a key being "
            "processed runs again afterwards",
            not_in={
                "go": "the Go controller uses client-go's workqueue, which de-duplicates keys itself (read "
                "k8s.io/client-go/util/workqueue: queue.go, Add); do this exercise in Python or Bash",
            },
            unit_tests={
                "python": UnitTests(
                    "python/tests/advanced/test_queue.py",
                    {
                        "test_a_key_added_twice_is_queued_once": QUEUED_TWICE,
                        "test_a_key_added_while_processed_waits_for_done": PROCESSING_NOT_MARKED,
                        "test_a_key_processed_without_new_adds_is_not_queued_again": QUEUED_AFTER_DONE,
                    },
                ),
                "bash": UnitTests(
                    "bash/test/advanced_queue.bats",
                    {
                        "a key added twice is queued once, in the order of the first add": QUEUED_TWICE,
                        "a key added while a worker has it waits until the worker is done, then comes back once": (
                            PROCESSING_NOT_MARKED
                        ),
                        "a key not changed while processing is not queued again when done": QUEUED_AFTER_DONE,
                    },
                ),
            },
            wrong_answers={
                "python": (
                    WrongAnswer(
                        "no de-duplication",
                        "with self._condition:\n    self._queue.append(key)\n    self._condition.notify()",
                        "test_a_key_added_twice_is_queued_once",
                    ),
                    WrongAnswer(
                        "forgets the key being processed",
                        "with self._condition:\n    if self._shutting_down or key in self._dirty:\n        return\n"
                        "    self._dirty.add(key)\n    self._queue.append(key)\n    self._condition.notify()",
                        "test_a_key_added_while_processed_waits_for_done",
                    ),
                ),
                "bash": (
                    WrongAnswer(
                        "no de-duplication",
                        "QUEUE_ITEMS[QUEUE_TAIL++]=$1",
                        "a key added twice is queued once, in the order of the first add",
                    ),
                    WrongAnswer(
                        "forgets the key being processed",
                        "[[ -n ${QUEUE_DIRTY[$1]+x} ]] && return 0\nQUEUE_DIRTY[$1]=1\nQUEUE_ITEMS[QUEUE_TAIL++]=$1",
                        "a key added while a worker has it waits until the worker is done, then comes back once",
                    ),
                ),
            },
        ),
        Exercise(
            "conflict",
            "advanced",
            "Decide that a child is not ours (its controller owner reference is another object), so it is reported.",
            "Look at the live child's ownerReferences: the one with controller=true\n"
            "must be this site (same uid); anything else is a conflict (the reconciler then reports it, never\n"
            "overwrites it: your function only decides).",
            ("level_children", "child_conflict_never_overwritten"),
            "your controller overwrites objects it does not own: a child whose controller owner is not the site is a "
            "ChildConflict",
            {
                "bash": "Bash (jq): true when .metadata.ownerReferences has an entry with controller == true and\n"
                "uid == $uid; the plan (reconciler.jq) reports a child for which it is false.",
            },
        ),
        Exercise(
            "leader-election",
            "advanced",
            "One attempt to acquire or renew the Lease: take it if free or expired, renew it if ours.",
            "Read the Lease (create it if missing); if another holder's lease has not expired,\n"
            "you are not the leader; otherwise write yourself as holder with a new renewTime\n"
            "(the update fails on a conflict: someone else won).",
            ("level_leader_election", "leader_election_one_writer", "sigterm_releases_the_lease"),
            "your replicas do not elect one leader yet: acquire or renew the Lease, and only the holder writes",
            {
                "python": "Python: the Python client's leader election reads the Lease and decides; your part is one\n"
                "attempt: set self._api.deadline = deadline (so the request ends in time), return\n"
                "self._election.try_acquire_or_renew(), and count any exception as a failed try (log it, False).",
                "go": "Go: client-go's leader election reads the Lease and decides; this is the lock's Update, the\n"
                "write: refuse a release (record.HolderIdentity empty) until l.releasing is set, send\n"
                "l.Interface.Update(ctx, record), and l.remember(started, record, err): a success is a renewal.",
                "bash": 'Bash: the holder first renews without a read (lease_object ... "$LEASE_RESOURCE_VERSION";\n'
                "lease_write replace). Else: lease_budget, api_get_lease (404: lease_object + lease_write create);\n"
                "let jq compare spec.holderIdentity with $IDENTITY (data, never a word); another holder's Lease is\n"
                "expired once LEASE_OBSERVED has not changed for leaseDurationSeconds (LEASE_OBSERVED_AT, now_us);\n"
                "then lease_object (transitions + 1 on a take-over), lease_write replace. lease_seconds: the duration.",
            },
        ),
    )
}


def exercise(step: str) -> Exercise:
    try:
        return EXERCISES[step]
    except KeyError:
        raise SystemExit(f"error: no exercise {step!r}; choose one of: {', '.join(EXERCISES)}") from None


def language_name(language: str) -> str:
    if language not in LANGUAGES:
        raise SystemExit(f"error: LANG={language!r}: choose one of {', '.join(LANGUAGES)}")
    return language


# ----- where each language's code lives, and how its programs run ----------------------------------------
SOURCES = {
    "python": REPO_ROOT / "python" / "src" / "controller_examples",
    "go": REPO_ROOT / "go",
    "bash": REPO_ROOT / "bash",
}
# The directory the reference's code runs from, as code_root is a workspace's (Python: the import path).
REFERENCE_CODE = {"python": SOURCES["python"].parent, "go": SOURCES["go"], "bash": SOURCES["bash"]}
PYTHON_MODULES = {
    "basics": "controller_examples.basics.list_pods",
    "intermediate": "controller_examples.intermediate.watch_pods",
    "advanced": "controller_examples.advanced.manager",
}
PROGRAMS = {"basics": "list-pods", "intermediate": "watch-pods", "advanced": "staticsite-controller"}


def workspace_copy(language: str, root: Path = WORKSPACE) -> Path:
    """Where the workspace keeps ``language``'s copy of the code."""
    return root / language / ("controller_examples" if language == "python" else "")


def available(language: str, step: str) -> Exercise:
    """The exercise ``step``, refused with the reason when ``language`` has none (before any workspace moves)."""
    chosen = exercise(step)
    if language in chosen.not_in:
        raise SystemExit(f"error: no {language} exercise {step}: {chosen.not_in[language]}")
    return chosen


def code_root(language: str, root: Path = WORKSPACE) -> Path:
    """The directory the workspace's code runs from: Python's import path (it holds controller_examples), the
    Bash track's tree."""
    return root / language


def create(language: str, step: str, root: Path = WORKSPACE, answer: str | None = None) -> list[markers.Region]:
    """A fresh workspace for ``language`` with ``step`` cut out (or, given ``answer``, with that body written in
    instead: CI's wrong answers); returns the regions cut (never none)."""
    chosen = available(language, step)
    source, target = SOURCES[language], workspace_copy(language, root)
    regions = markers.find(source, step)
    if not regions:
        raise SystemExit(f"error: the {language} code has no exercise {step} yet (no '{step}' markers)")
    shutil.rmtree(root / language, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "bin"))
    for region in regions:
        path = target / region.path.relative_to(source)
        if answer is None:
            markers.cut(path, step, chosen.hint_for(language))
        else:
            markers.fill(path, step, answer)
    (root / language / "EXERCISE.json").write_text(json.dumps({"step": step, "track": chosen.track}) + "\n")
    return [markers.Region(r.exercise, target / r.path.relative_to(source), r.begin, r.end, r.indent) for r in regions]


def keep_previous(language: str, root: Path = WORKSPACE) -> Path | None:
    """Move the language's workspace aside (``python.finalizer.20261130T235700``), so a new exercise never
    erases a learner's work; returns where it went, or None when there was none."""
    workspace = root / language
    if not workspace.exists():
        return None
    step = current(language, root)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    kept = root / f"{language}.{step.id if step else 'previous'}.{stamp}"
    workspace.rename(kept)
    return kept


def current(language: str, root: Path = WORKSPACE) -> Exercise | None:
    """The exercise the workspace of ``language`` was made for, if there is one."""
    state = root / language / "EXERCISE.json"
    return EXERCISES.get(json.loads(state.read_text())["step"]) if state.is_file() else None


def command_line(language: str, track: str, python: str, root: Path = WORKSPACE) -> str:
    """The command that runs the workspace's program for ``track`` (built first, for Go)."""
    if language == "python":
        pythonpath = shlex.quote(f"PYTHONPATH={root / 'python'}")
        return f"env {pythonpath} {shlex.quote(python)} -m {PYTHON_MODULES[track]}"
    if language == "go":
        build_go(PROGRAMS[track], root)
        return shlex.quote(str(root / "go" / "bin" / PROGRAMS[track]))
    return shlex.quote(str(root / "bash" / track / PROGRAMS[track]))


def build_go(program: str, root: Path = WORKSPACE) -> None:
    """Build the workspace's Go program (that one only: quicker); a compile error is the learner's first feedback."""
    result = subprocess.run(
        ["go", "build", "-o", str(root / "go" / "bin") + "/", f"./cmd/{program}"],
        cwd=root / "go",
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise SystemExit(f"your Go code does not build yet:\n{result.stderr.strip()}")
