"""Job ids and the files named after them: the one check that keeps what Redis holds off the disk.

A job id is made here (`new_job_id`) and nowhere else, so its format is one fact: 12 lowercase hex
digits. Whatever arrives as an id from storage (Redis, or a request to cancel) is checked against it
(`is_job_id`) before it names a key or a file. Every file named after a job is built by `job_file`,
and every path that is about to be written or deleted is checked by `inside` to resolve to a place
under the folder it belongs to, so a planted `../../escaped` or `/etc/passwd` never leaves that
folder on the bot's host or a worker's.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Final, TypeGuard

from generation.errors import shown

JOB_ID_LENGTH: Final = 12
_JOB_ID: Final = re.compile(rf"[0-9a-f]{{{JOB_ID_LENGTH}}}")


class UnsafeNameError(ValueError):
    """A job id that is not one, or a path that leaves the folder it must stay in."""


def new_job_id() -> str:
    """A fresh job id (random, so ids of two bot processes do not collide)."""
    return uuid.uuid4().hex[:JOB_ID_LENGTH]


def is_job_id(value: object) -> TypeGuard[str]:
    """True for a string that is a job id as `new_job_id` makes them."""
    return isinstance(value, str) and _JOB_ID.fullmatch(value) is not None


def job_file(folder: Path, job_id: str, suffix: str) -> Path:
    """`folder/{job_id}{suffix}`; raises `UnsafeNameError` unless `job_id` is a job id."""
    if not is_job_id(job_id):
        raise UnsafeNameError(f"not a job id: {shown(job_id)}")
    return folder / f"{job_id}{suffix}"


def inside(folder: Path, path: Path) -> Path:
    """`path` resolved, once checked to lie under `folder` (resolved too); raises `UnsafeNameError`.

    Blocking (it follows symbolic links on disk): call it where the file is then written or deleted.
    """
    resolved, root = path.resolve(), folder.resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise UnsafeNameError(f"{shown(str(path))} is not under {folder}")
    return resolved
