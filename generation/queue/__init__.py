"""The job queue: interface, fair scheduler, SQLite store and the in-process asyncio implementation.

Words the queue and its consumers use with one meaning each:

- **admitted**: a submission passed the caps and is saved; only then may the user see "queued".
- **line**: the waiting jobs in the order they will start (per-user round robin, `scheduler.py`).
- **taken / begun**: the worker has claimed jobs from the line (`JobSource.take`) / started the
  pipeline call for them (`begin`); a job is "running" from `take` on.
- **ended**: the job reached its ending (`Succeeded`, `Failed` or `Cancelled`, `source.py`) in
  `QueueCore.end`, the one place a job stops, whatever the outcome; only the first ending counts.
- **outcome**: the terminal event (`JobFinished` / `JobFailed` / `JobCancelled`) an ended job
  reports, rebuilt from storage after a restart (`JobQueue.outcome`).
- **acknowledged**: the consumer has shown the outcome to its user (`JobQueue.acknowledge`), so a
  restart will not hand the job back. Not to be confused with the bot's first answer to a Discord
  interaction, which `bot/discord_io/acknowledgement.py` calls the same on its own side.
- **recovered**: a job a previous process left waiting or running, put back in line by `start`
  (announced with `JobQueued(recovered=True)`); one that crashed the worker `job_max_attempts`
  times is failed instead.
- **settled** (bot side): the job's outcome was shown, refused for good, or is owed.
- **owed** (bot side): a failure that may pass kept the outcome from its user; the job stays
  unacknowledged, so the next start shows it.
- **refused for good** (bot side): Discord will never take the outcome (a deleted channel, a lost
  permission); the job is acknowledged so it is not retried forever.
"""
