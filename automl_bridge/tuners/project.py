"""A tuner project on disk: an Optuna study in SQLite plus the trials' weights.

Layout of ``<directory>/<project_name>/``: ``tuner.db`` (the Optuna study, named after the
project; its user attributes hold the search space, the objective and the tuner) and
``weights/trial_<number>.pt`` (``torch.save`` of a trial's best-epoch state dict). With
``directory=None`` the study lives in memory and nothing is written.

Opening an existing project is explicit: ``overwrite=True`` deletes it and starts again,
``resume=True`` continues it (the search space and the objective must be the same), neither is
an error.

Example:
    >>> from automl_bridge.tuners.project import space_diff
    >>> space_diff([{"name": "a", "kind": "Int", "min_value": 1}],
    ...            [{"name": "a", "kind": "Int", "min_value": 2}])
    ["'a': min_value 1 -> 2"]
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna

from automl_bridge.exceptions import ResumeMismatchError, RunExistsError, SpecError

ATTR_SPACE = "automl_bridge:tuner_space"
ATTR_OBJECTIVE = "automl_bridge:tuner_objective"
ATTR_TUNER = "automl_bridge:tuner"
DB_NAME = "tuner.db"
WEIGHTS_DIR = "weights"


def space_diff(stored: Sequence[dict[str, Any]], given: Sequence[dict[str, Any]]) -> list[str]:
    """One line per difference between two spaces (as ``HyperParameters.to_dicts()``)."""
    old = {d["name"]: d for d in stored}
    new = {d["name"]: d for d in given}
    out = [f"{name!r}: removed (was {old[name]['kind']})" for name in old if name not in new]
    out += [f"{name!r}: added ({new[name]['kind']})" for name in new if name not in old]
    for name in old:
        if name in new and old[name] != new[name]:
            a, b = old[name], new[name]
            keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
            out.append(f"{name!r}: " + ", ".join(f"{k} {a.get(k)!r} -> {b.get(k)!r}"
                                                 for k in keys))
    return out


class Project:
    """Where a tuner keeps its trials and weights.

    Attributes:
        directory: the project folder, or ``None`` (in memory).
        study: the Optuna study.
        resumed: whether an existing project was continued.
    """

    def __init__(self, directory: Path | None, study: optuna.Study, resumed: bool) -> None:
        self.directory = directory
        self.study = study
        self.resumed = resumed

    @classmethod
    def open(cls, directory: str | Path | None, project_name: str, *, overwrite: bool,
             resume: bool, space: list[dict[str, Any]], objective: str, direction: str,
             tuner: str) -> Project:
        """Create, overwrite or resume the project (see the module docstring).

        Raises:
            SpecError: both ``overwrite`` and ``resume``.
            ResumeMismatchError: on resume, a changed search space or
                objective (the message lists the differences).
            RunExistsError: the project exists and neither ``overwrite`` nor ``resume``.
        """
        if overwrite and resume:
            raise SpecError("Pass overwrite=True (start the project again) or resume=True "
                            "(continue it), not both.")
        if not project_name or not isinstance(project_name, str) or "/" in project_name:
            raise SpecError(f"The 'project_name' must be a folder name. Got {project_name!r}.")
        if directory is None:
            study = optuna.create_study(study_name=project_name,
                                        direction=direction)  # type: ignore[arg-type]
            cls._describe(study, space, objective, tuner)
            return cls(None, study, resumed=False)
        folder = Path(directory) / project_name
        db = folder / DB_NAME
        if db.exists() and overwrite:
            cls._delete(folder)
        exists = db.exists()
        if exists and not resume:
            raise RunExistsError(
                f"The tuner project {str(folder)!r} exists already. Pass overwrite=True to "
                "delete it and start again, or resume=True to continue its search.")
        from automl_bridge.engine.study import open_storage

        storage = open_storage(f"sqlite:///{db.resolve()}")
        if exists:
            study = optuna.load_study(study_name=project_name, storage=storage)
            cls._check(study, folder, space, objective, direction)
            return cls(folder, study, resumed=True)
        study = optuna.create_study(study_name=project_name, storage=storage,
                                    direction=direction)  # type: ignore[arg-type]
        cls._describe(study, space, objective, tuner)
        return cls(folder, study, resumed=False)

    @staticmethod
    def _describe(study: optuna.Study, space: list[dict[str, Any]], objective: str,
                  tuner: str) -> None:
        study.set_user_attr(ATTR_SPACE, space)
        study.set_user_attr(ATTR_OBJECTIVE, objective)
        study.set_user_attr(ATTR_TUNER, tuner)

    @staticmethod
    def _check(study: optuna.Study, folder: Path, space: list[dict[str, Any]],
               objective: str, direction: str) -> None:
        stored_objective = study.user_attrs.get(ATTR_OBJECTIVE)
        stored_direction = study.direction.name.lower()
        if stored_objective != objective or stored_direction != direction:
            raise ResumeMismatchError(
                f"The tuner project {str(folder)!r} optimises {stored_objective!r} "
                f"({stored_direction}); resume needs the same objective. Got {objective!r} "
                f"({direction}). Pass overwrite=True to start again with the new objective.")
        diff = space_diff(study.user_attrs.get(ATTR_SPACE, []), space)
        if diff:
            raise ResumeMismatchError(
                f"The search space of the tuner project {str(folder)!r} has changed; resume "
                "needs the same space. Differences (stored -> given):\n- " + "\n- ".join(diff)
                + "\nPass overwrite=True to start again, or use another project_name.")

    @staticmethod
    def _delete(folder: Path) -> None:
        for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal"):
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / WEIGHTS_DIR, ignore_errors=True)

    def weights_path(self, number: int) -> Path | None:
        """Where trial ``number``'s weights are saved (``None`` in memory)."""
        if self.directory is None:
            return None
        return self.directory / WEIGHTS_DIR / f"trial_{number:04d}.pt"

    def describe(self) -> str:
        """Where the results are (for summaries)."""
        if self.directory is None:
            return "memory (directory=None)"
        return str(self.directory)


__all__ = ["Project", "space_diff"]
