"""Deterministic, cloud-legal names and labels for remote jobs.

The same run id and data always give the same name, so a submit that was interrupted (or
retried by a re-run notebook cell) finds its job instead of creating a second one.

Example:
    >>> job_name("20261127-101500-ab12cd", "f" * 64, max_len=32)
    'ab-20261127-101500-ab12cd-ffffff'
    >>> len(job_name("x" * 80, "0" * 64, max_len=32))
    32
    >>> labels_for("vertex", "Run_01")
    {'automl-bridge': '1', 'automl-bridge-run': 'run_01'}
"""

from __future__ import annotations

import hashlib
import re

#: Prefix of every job name this SDK creates (``cleanup`` finds jobs by it and by tags).
PREFIX = "ab-"
#: Tag / label keys that mark a job as ours.
TAG_MARK = "automl-bridge"
TAG_RUN = "automl-bridge-run"


def job_name(run_id: str, data_sha256: str, *, max_len: int = 32,
             allowed: str = r"[^a-zA-Z0-9-]") -> str:
    """``ab-<run id>-<data hash>``, cut to ``max_len``; characters matching ``allowed``'s
    negated class become ``-``. When the run id is too long, a hash of it keeps names unique.
    """
    rid = re.sub(allowed, "-", run_id).strip("-") or "run"
    digest = re.sub(allowed, "", data_sha256) or "0"
    name = f"{PREFIX}{rid}-{digest}"
    if len(PREFIX) + len(rid) + 7 > max_len:  # keep at least 6 characters of the data hash
        short = hashlib.sha256(run_id.encode()).hexdigest()[:12]
        name = f"{PREFIX}{short}-{digest}"
    return name[:max_len].rstrip("-")


def labels_for(cloud: str, run_id: str) -> dict[str, str]:
    """Tags/labels that mark a job as ours, legal on ``cloud`` (GCP labels: lowercase letters,
    digits, ``_`` and ``-``, at most 63 characters)."""
    value = run_id
    if cloud == "vertex":
        value = re.sub(r"[^a-z0-9_-]", "-", run_id.lower())[:63]
    return {TAG_MARK: "1", TAG_RUN: value}
