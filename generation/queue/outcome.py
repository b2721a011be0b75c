"""An ended job's terminal event, rebuilt from what was stored, to deliver it after a restart."""

from __future__ import annotations

from pathlib import Path

from generation.encode import probe
from generation.errors import EncodeError
from generation.queue.interface import JobCancelled, JobFailed, JobFinished, JobInfo, JobStatus, SystemActor
from generation.queue.reasons import LOST_VIDEO, UNKNOWN
from generation.results import Timings, VideoResult


def terminal_event(info: JobInfo) -> JobFinished | JobFailed | JobCancelled:
    """The event the job ended with. Blocking: a success's video is probed on disk.

    A success whose file is gone or unreadable becomes a failure, so the user still hears of it.
    Raises `ValueError` for a job that has not ended.
    """
    match info.status:
        case JobStatus.SUCCEEDED:
            if info.video_path is None or info.seed is None:
                return JobFailed(info.job_id, LOST_VIDEO)
            try:
                video = probe(Path(info.video_path))
            except EncodeError:
                return JobFailed(info.job_id, LOST_VIDEO)
            return JobFinished(info.job_id, VideoResult(info.spec.request, info.seed, video, info.timings or Timings()))
        case JobStatus.FAILED:
            return JobFailed(info.job_id, info.error or UNKNOWN)
        case JobStatus.CANCELLED:
            return JobCancelled(info.job_id, info.cancelled_by or SystemActor.UNKNOWN)
        case _:
            raise ValueError(f"job {info.job_id} has not ended ({info.status})")
