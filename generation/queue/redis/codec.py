"""Jobs and events as Redis stores them: hash fields and stream entries of strings, and back.

The request is stored whole as JSON of its dataclass fields, so a field added to `VideoRequest`
travels to the workers without a change here. Numbers the Lua scripts only copy (times) are written by
Python as exact decimal strings; what the scripts compute (positions, ETAs) comes back as numbers.

Whoever can write to Redis can write anything there, so what is read back is input: every decoder
here checks what it builds (the id against the job-id format, the request as a new one is checked,
the numbers as numbers) and raises `DamagedJobError` for a record that fails, never a `KeyError` or
`TypeError` from deep inside.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from generation.errors import DamagedJobError, InvalidRequestError, one_line
from generation.queue.allowance import Allowance
from generation.queue.interface import (
    JobCancelled,
    JobFailed,
    JobInfo,
    JobProgress,
    JobQueued,
    JobSpec,
    JobStarted,
    JobStatus,
    actor_from_text,
    actor_text,
)
from generation.queue.jobfiles import is_job_id
from generation.queue.quota import allowance_from_text, allowance_text
from generation.queue.source import Cancelled, Ending, Failed, Succeeded
from generation.request import VideoRequest, request_from_fields
from generation.results import Timings, VideoFile

Raw = Mapping[str, Any]
"""A job hash or stream entry as the scripts return it (strings, and numbers they computed)."""

SWEPT: Final = "swept"
"""Job hash field set once the bot's retention sweep deleted the job's files: it has no video any more."""

_TOKEN: Final = re.compile(r"[0-9]{1,20}")
"""A fencing token: the `sched` hash's `token` counter (see `scripts.TAKE`)."""

_WEIGHT: Final = re.compile(r"[0-9]{1,2}")
"""A weight as the scripts read one (`job_weight` in the prelude): one or two digits."""


@dataclass(frozen=True)
class VideoMeta:
    """What a worker says about the MP4 it stored: everything of `VideoFile` but the path."""

    size_bytes: int
    width: int
    height: int
    num_frames: int
    fps: int

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{field.name} must be a whole number of at least 0 (got {value!r})")

    def at(self, path: Path) -> VideoFile:
        """The file description once the bytes are written to `path`."""
        return VideoFile(path, self.size_bytes, self.width, self.height, self.num_frames, self.fps)


def shape_key(request: VideoRequest) -> str:
    """The batching shape as a string the scripts compare (equal shapes, equal strings)."""
    return json.dumps(list(request.shape))


def number(value: float) -> str:
    """A float as an exact decimal string (Lua would round it to 14 digits)."""
    return repr(float(value))


def encode_request(request: VideoRequest) -> str:
    """Every field of the request, as JSON."""
    return json.dumps(dataclasses.asdict(request), sort_keys=True)


def decode_request(text: str) -> VideoRequest:
    """The request `encode_request` wrote, checked as a new one is; raises `InvalidRequestError`."""
    try:
        fields = json.loads(text)
    except (TypeError, ValueError):
        raise InvalidRequestError("request", "text that is not JSON", "the JSON of a video request") from None
    return request_from_fields(fields)


def job_id_of(raw: Raw, field: str = "id") -> str:
    """The job id a record or event names in `field`; raises `DamagedJobError` unless it is a job id."""
    job_id = raw.get(field)
    if not is_job_id(job_id):
        raise DamagedJobError(job_id, "its id is not a job id")
    return str(job_id)


def video_key(prefix: str, job_id: str, token: object) -> str:
    """Where a success's MP4 is stored: under the job's id and the fencing token of the worker that made
    it, so no worker can name another job's bytes. The END script derives the same key in Lua."""
    if not is_job_id(job_id) or not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise DamagedJobError(job_id, "its fencing token is not one")
    return f"{prefix}video:{job_id}:{token}"


def job_fields(job_id: str, spec: JobSpec, origin: str) -> dict[str, str]:
    """The fields a new job's hash starts with, besides its status and times (set by the script)."""
    request = spec.request
    fields = {
        "id": job_id,
        "owner": spec.owner_id,
        "group": spec.group_id,
        "context": spec.context,
        "request": encode_request(request),
        "origin": origin,
        "shape": shape_key(request),
        "cost": number(request.cost),
        # The lane the scripts route it by (see `scripts.py`); '' runs on any worker.
        "model": request.model or "",
    }
    if spec.allowance.weight != 1:  # its owner's turns per round in the lane's fair order (absent: 1)
        fields["weight"] = str(spec.allowance.weight)
    allowance = allowance_text(spec.allowance)
    if allowance is not None:  # a job without one (no limits) costs no field
        # Whose quota it counts against, for the scripts to give the count back if it fails.
        fields |= {"quota": spec.allowance.quota_key, "allowance": allowance}
    return fields


def quota_argument(allowance: Allowance) -> dict[str, Any] | None:
    """The `quota` argument of the submit and quota scripts; None without a quota key (nothing counted)."""
    if not allowance.quota_key:
        return None
    argument: dict[str, Any] = {"key": allowance.quota_key}
    if allowance.daily_quota is not None:
        argument["limit"] = allowance.daily_quota
    if allowance.window.reset_hour is not None:
        argument["reset_hour"] = allowance.window.reset_hour
    return argument


def encode_ending(ending: Ending) -> dict[str, Any]:
    """The `ending` argument of the end script (a success's bytes are already under `video_key`)."""
    match ending:
        case Succeeded(video=video, seed=seed, timings=timings, batch_size=batch_size):
            meta = VideoMeta(video.size_bytes, video.width, video.height, video.num_frames, video.fps)
            return {
                "kind": "succeeded",
                "seed": str(seed),
                "video": json.dumps(dataclasses.asdict(meta)),
                "timings": json.dumps(dataclasses.asdict(timings)),
                "batch_size": str(batch_size),
            }
        case Failed(reason=reason):
            return {"kind": "failed", "reason": reason}
        case Cancelled(by=by):
            return {"kind": "cancelled"} | ({"by": actor_text(by)} if by is not None else {})


def _why(error: Exception) -> str:
    """What was wrong with a stored field, in a bounded line (the value may be anything Redis held)."""
    return f"{type(error).__name__}: {one_line(error)[:120]}"


def _float(raw: Raw, field: str) -> float | None:
    value = raw.get(field)
    return None if value is None or value == "" else float(value)


def video_meta(raw: Raw) -> VideoMeta | None:
    """The stored description of a succeeded job's MP4; raises `DamagedJobError`."""
    text = raw.get("video")
    if not text:
        return None
    try:
        return VideoMeta(**json.loads(text))
    except (TypeError, ValueError) as error:
        raise DamagedJobError(raw.get("id"), f"its video's description: {_why(error)}") from None


def decode_info(raw: Raw, video_path: Path | None = None) -> JobInfo:
    """A job hash as a `JobInfo` (`video_path`: where this process keeps a succeeded job's MP4), every field
    checked; raises `DamagedJobError`."""
    job_id = job_id_of(raw)
    try:
        return _info(job_id, raw, video_path)
    except InvalidRequestError as error:  # named, never shown: a prompt is the user's, not the log's
        raise DamagedJobError(job_id, f"its request's {error.field} is not {error.allowed}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise DamagedJobError(job_id, _why(error)) from None


def _info(job_id: str, raw: Raw, video_path: Path | None) -> JobInfo:
    status = JobStatus(raw["status"])
    position = raw.get("position")
    timings = raw.get("timings")
    seed = raw.get("seed")
    cancelled_by = raw.get("cancelled_by")
    request = decode_request(raw["request"])
    # The model the scripts routed it by must be the one its request names (checked there), or a worker
    # of another model could be handed it.
    if (raw.get("model") or None) != request.model:
        raise ValueError("its model field is not its request's model")
    allowance = _allowance(raw)
    # The scripts order the job by its weight field: it must be its allowance's, or the order shown and
    # the order run could differ from what the member's perks say.
    if job_weight(raw) != allowance.weight:
        raise ValueError("its weight field is not its allowance's weight")
    return JobInfo(
        job_id=job_id,
        spec=JobSpec(request, raw["owner"], raw.get("group", ""), raw.get("context", ""), _allowance(raw)),
        status=status,
        position=None if status.terminal or position is None else int(position),
        eta_s=None if status.terminal else _float(raw, "eta"),
        submitted_at=float(raw["submitted_at"]),
        started_at=_float(raw, "started_at"),
        finished_at=_float(raw, "finished_at"),
        attempts=int(raw.get("attempts", 0)),
        seed=int(seed) if seed else None,
        error=raw.get("error") or None,
        cancelled_by=actor_from_text(cancelled_by) if cancelled_by else None,
        video_path=str(video_path) if status is JobStatus.SUCCEEDED and video_path and SWEPT not in raw else None,
        timings=Timings(**json.loads(timings)) if timings else None,
    )


def _allowance(raw: Raw) -> Allowance:
    """The job's allowance (a record from before allowances has none: no limits), which must name the
    quota key the scripts count it under."""
    try:
        allowance = allowance_from_text(raw.get("allowance"))
    except InvalidRequestError as error:
        raise ValueError(f"its allowance's {error.field} is not {error.allowed}") from None
    if raw.get("quota", "") != allowance.quota_key:
        raise ValueError("its quota field is not its allowance's quota key")
    return allowance


def job_weight(raw: Raw) -> int:
    """The weight the scripts ordered the job by: 1 for a record from before weights; raises `ValueError`
    for one that is not a weight (the scripts count it as 1 meanwhile)."""
    text = raw.get("weight")
    if text is None:
        return 1
    if not isinstance(text, str) or not _WEIGHT.fullmatch(text):
        raise ValueError("its weight is not a whole number")
    try:
        return Allowance(weight=int(text)).weight
    except InvalidRequestError as error:
        raise ValueError(f"its weight is not {error.allowed}") from None


def decode_event(entry: Raw) -> JobQueued | JobStarted | JobProgress | JobFailed | JobCancelled | None:
    """A stream entry as its event; None for a success, which needs the job and its video to build.
    Raises `DamagedJobError` for an entry that is not one the scripts write."""
    job_id = job_id_of(entry, "job")
    try:
        return _event(job_id, entry)
    except (KeyError, TypeError, ValueError) as error:
        raise DamagedJobError(job_id, f"an event: {_why(error)}") from None


def _event(job_id: str, entry: Raw) -> JobQueued | JobStarted | JobProgress | JobFailed | JobCancelled | None:
    match entry["kind"]:
        case "queued":
            return JobQueued(job_id, int(entry["position"]), _float(entry, "eta"), entry.get("recovered") == "1")
        case "started":
            return JobStarted(job_id, int(entry["batch"]), _float(entry, "eta"))
        case "progress":
            return JobProgress(job_id, int(entry["step"]), int(entry["total"]), float(entry["elapsed"]))
        case "failed":
            return JobFailed(job_id, entry["reason"])
        case "cancelled":
            return JobCancelled(job_id, actor_from_text(entry["by"]))
        case "finished":
            return None
        case kind:
            raise ValueError(f"unknown event kind {kind!r} for job {job_id}")


def is_terminal(entry: Raw) -> bool:
    """True for the entry of a job's last event."""
    return entry.get("kind") in ("finished", "failed", "cancelled")
