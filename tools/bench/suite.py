"""The conformance suite's helpers, imported rather than copied.

The suite's modules (``controllers``, ``implementations``, ``kube``, ``programs``) are top-level modules of
``conformance/``, not a package. This is the one place that puts that directory on ``sys.path``; every
other module of the bench imports them from here.
"""

from __future__ import annotations

import sys

from clusterkit.versions import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "conformance"))

import controllers

import implementations
import kube
import programs

__all__ = ["controllers", "implementations", "kube", "programs"]
