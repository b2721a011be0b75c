"""Jobs and events as Redis stores them: hash fields and stream entries of strings, and back.

The request is stored whole as JSON of its dataclass fields, so a field added to `VideoRequest`
travels to the workers without a change here. Numbers the Lua scripts only copy (times) are written by
Python as exact decimal strings; what the scripts compute (positions, ETAs) comes back as numbers.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

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
from generation.queue.source import Cancelled, Ending, Failed, Succeeded
from generation.request import VideoRequest
from generation.results import Timings, VideoFile

Raw = Mapping[str, Any]
"""A job hash or stream entry as the scripts return it (strings, and numbers they computed)."""

SWEPT: Final = "swept"
"""Job hash field set once the bot's retention sweep deleted the job's files: it has no video any more."""


@dataclass(frozen=True)
class VideoMeta:
    """What a worker says about the MP4 it stored: everything of `VideoFile` but the path."""

    size_bytes: int
    width: int
    height: int
    num_frames: int
    fps: int

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
    """The request `encode_request` wrote (validated again on construction)."""
    return VideoRequest(**json.loads(text))


def job_fields(job_id: str, spec: JobSpec, origin: str) -> dict[str, str]:
    """The fields a new job's hash starts with, besides its status and times (set by the script)."""
    request = spec.request
    return {
        "id": job_id,
        "owner": spec.owner_id,
        "group": spec.group_id,
        "context": spec.context,
        "request": encode_request(request),
        "origin": origin,
        "shape": shape_key(request),
        "cost": number(request.cost),
    }


def encode_ending(ending: Ending, video_key: str | None) -> dict[str, Any]:
    """The `ending` argument of the end script (`video_key`: where a success's bytes were stored)."""
    match ending:
        case Succeeded(video=video, seed=seed, timings=timings, batch_size=batch_size):
            meta = VideoMeta(video.size_bytes, video.width, video.height, video.num_frames, video.fps)
            return {
                "kind": "succeeded",
                "seed": str(seed),
                "video_key": video_key or "",
                "video": json.dumps(dataclasses.asdict(meta)),
                "timings": json.dumps(dataclasses.asdict(timings)),
                "batch_size": str(batch_size),
            }
        case Failed(reason=reason):
            return {"kind": "failed", "reason": reason}
        case Cancelled(by=by):
            return {"kind": "cancelled"} | ({"by": actor_text(by)} if by is not None else {})


def _float(raw: Raw, field: str) -> float | None:
    value = raw.get(field)
    return None if value is None or value == "" else float(value)


def video_meta(raw: Raw) -> VideoMeta | None:
    """The stored description of a succeeded job's MP4."""
    text = raw.get("video")
    return VideoMeta(**json.loads(text)) if text else None


def decode_info(raw: Raw, video_path: Path | None = None) -> JobInfo:
    """A job hash as a `JobInfo` (`video_path`: where this process keeps a succeeded job's MP4)."""
    status = JobStatus(raw["status"])
    position = raw.get("position")
    timings = raw.get("timings")
    seed = raw.get("seed")
    cancelled_by = raw.get("cancelled_by")
    return JobInfo(
        job_id=raw["id"],
        spec=JobSpec(decode_request(raw["request"]), raw["owner"], raw.get("group", ""), raw.get("context", "")),
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


def decode_event(entry: Raw) -> JobQueued | JobStarted | JobProgress | JobFailed | JobCancelled | None:
    """A stream entry as its event; None for a success, which needs the job and its video to build."""
    job_id = entry["job"]
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
    return entry["kind"] in ("finished", "failed", "cancelled")
