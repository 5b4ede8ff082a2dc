"""The backend contract: what every backend (local, cloud, third-party) must do.

A backend under test is described by a :class:`BackendCase`: a name and a factory
``make(outcome, strict)`` that returns a backend whose runs end as ``outcome`` says
(``"completed"``, ``"failed"`` or ``"running"``, which never ends by itself) — for a cloud,
the real adapter over fake SDK clients. The checks:

- :func:`check_valid_result`: the same spec in, a valid :class:`~automl_bridge.results.RunResult`
  out (status, metric and direction, candidates, a best candidate that is one of them, a
  leaderboard, a JSON round trip);
- :func:`check_cancel`: a submitted run can be cancelled and ends cancelled;
- :func:`check_failure_has_reason`: a failing run raises an
  :class:`~automl_bridge.exceptions.AutoMLBridgeError` that carries the reason;
- :func:`check_unsupported_field_refused`: a spec field the backend cannot honour is refused
  before anything is created (``strict``), or recorded as a warning (``strict=False``).

Third-party backends run the same checks from their own tests::

    from automl_bridge.testing.backends import BackendCase, CONTRACT
    @pytest.mark.parametrize("check", CONTRACT)
    def test_contract(check):
        check(BackendCase("mine", make=my_factory), data, spec)

Example:
    >>> [c.__name__ for c in CONTRACT][:2]
    ['check_valid_result', 'check_cancel']
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from automl_bridge.exceptions import AutoMLBridgeError, UnsupportedSpecError
from automl_bridge.results import CandidateState, RunResult, RunStatus
from automl_bridge.spec import JobSpec


@dataclass
class BackendCase:
    """A backend under the contract.

    Attributes:
        name: the backend's name (``RunResult.backend``).
        make: ``make(outcome, strict) -> backend``, see the module docstring.
        unsupported: spec fields (``{"field": value}``) the backend cannot honour; ``{}``
            when it honours every field (the refusal check is then skipped).
        reason: a phrase the failure of a ``"failed"`` run must contain.
        created: ``created(backend) -> int``: remote jobs the backend created so far (to check
            a refusal created none); ``None`` when not observable.
        fail_fields: spec fields that make a run fail on this backend (with the ``"failed"``
            factory), e.g. a model family that always raises for the local engine.
        spec_fields: fields every check sets on the given spec for this backend (e.g. a trial
            cap for the local engine, which a cloud without one would refuse).
    """

    name: str
    make: Callable[[str, bool], Any]
    unsupported: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    created: Callable[[Any], int] | None = None
    fail_fields: dict[str, Any] = field(default_factory=dict)
    spec_fields: dict[str, Any] = field(default_factory=dict)

    def spec_for(self, spec: JobSpec, **more: Any) -> JobSpec:
        """``spec`` with this backend's :attr:`spec_fields` (and ``more``) set."""
        fields = {**self.spec_fields, **more}
        return JobSpec(**{**spec.to_dict(), **fields}) if fields else spec


def _run(backend: Any, spec: JobSpec, data: Any) -> RunResult:
    if hasattr(backend, "run"):
        return backend.run(spec, data)
    handle = backend.submit(spec, data)
    return backend.result(handle)


def check_valid_result(case: BackendCase, data: Any, spec: JobSpec) -> RunResult:
    """The same spec in, a valid RunResult out."""
    from automl_bridge.metrics import get_metric

    spec = case.spec_for(spec)
    result = _run(case.make("completed", True), spec, data)
    assert isinstance(result, RunResult), type(result)
    assert result.backend == case.name, result.backend
    assert result.status is RunStatus.COMPLETED, result.status
    assert result.run_id, "no run id"
    assert result.metric == (spec.metric or result.metric)
    assert result.direction == get_metric(result.metric).direction
    assert result.task in ("classification", "regression")
    assert result.candidates, "no candidates"
    assert result.best is not None, "no best candidate"
    ids = [c.candidate_id for c in result.candidates]
    assert len(set(ids)) == len(ids), f"duplicate candidate ids {ids}"
    assert result.best.candidate_id in ids or result.best.candidate_id in ("ensemble",
                                                                            "baseline")
    assert result.best.state is CandidateState.COMPLETE
    assert math.isfinite(result.best.score)
    for c in result.candidates:
        if c.state is CandidateState.COMPLETE:
            assert result.metric in c.metrics or math.isfinite(c.score), c
    board = result.leaderboard()
    assert list(board["rank"]) == list(range(1, len(board) + 1))
    assert result.wall_time_s >= 0
    assert result.spec.get("target") == spec.target
    again = RunResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.run_id == result.run_id and len(again.candidates) == len(result.candidates)
    return result


def check_cancel(case: BackendCase, data: Any, spec: JobSpec) -> None:
    """A submitted run can be cancelled and ends cancelled (or was already over)."""
    import time

    backend = case.make("running", True)
    handle = backend.submit(case.spec_for(spec), data)
    backend.cancel(handle)
    deadline = time.monotonic() + 60.0
    status = backend.status(handle)
    while not status.is_terminal and time.monotonic() < deadline:
        time.sleep(0.05)
        status = backend.status(handle)
    assert status in (RunStatus.CANCELLED, RunStatus.COMPLETED), status


def check_failure_has_reason(case: BackendCase, data: Any, spec: JobSpec) -> None:
    """A failing run raises one of our errors, with the reason in its message."""
    backend = case.make("failed", True)
    failing = case.spec_for(spec, **case.fail_fields)
    try:
        _run(backend, failing, data)
    except AutoMLBridgeError as exc:
        assert case.reason.lower() in str(exc).lower(), (case.reason, str(exc))
        return
    raise AssertionError(f"the failing {case.name} run raised nothing")


def check_unsupported_field_refused(case: BackendCase, data: Any, spec: JobSpec) -> None:
    """A field the backend cannot honour: refused before anything is created, or a
    recorded warning when approximation is allowed."""
    if not case.unsupported:
        return
    bad = case.spec_for(spec, **case.unsupported)
    backend = case.make("completed", True)
    try:
        _run(backend, bad, data)
    except UnsupportedSpecError as exc:
        for name in case.unsupported:
            assert name in str(exc), (name, str(exc))
    else:
        raise AssertionError(f"{case.name} accepted {case.unsupported}")
    if case.created is not None:
        assert case.created(backend) == 0, "a job was created before the refusal"
    lenient = _run(case.make("completed", False), bad, data)
    assert any(name in w for w in lenient.warnings for name in case.unsupported), \
        lenient.warnings


#: Every check, in order.
CONTRACT: tuple[Callable[[BackendCase, Any, JobSpec], Any], ...] = (
    check_valid_result, check_cancel, check_failure_has_reason,
    check_unsupported_field_refused)
