"""The Lua scripts that change the queue's state in Redis, each one atomic.

Each script is a file in `lua/` (`lua/take.lua` for TAKE), so it can be read, linted and diffed as
Lua; the helpers they share are `lua/prelude.lua`, prepended to each. Every script is called the same
way: KEYS[1] the deployment's `sched` key (the prefix's hash tag puts every key of a deployment in
that key's slot, so the call runs on a Redis Cluster endpoint too), ARGV[1] the key prefix, ARGV[2]
empty (the script reads Redis's `TIME`, the one clock every process shares) or, in tests only, the
time on a fake clock, ARGV[3] a JSON object of arguments; it answers a JSON document.

Keys (under the prefix):

* `job:{id}` hash: the job (see `codec.py` for its fields; `pos`: the place last announced to it);
  `line:{owner}` list: an owner's waiting jobs in order; `lines` / `stamps` hashes: per owner with jobs
  waiting, the round its head runs in and its rank within a round; `served` / `turns` hashes: owners
  served in the current round and how many jobs each started in it; `sched` hash: `round`, `stamps`,
  `waiting`, `token` counters, `far_at` (when the last pass of far places began) and `ordered` (set
  once `order` holds every line: INDEX_ORDER); `held` hash: jobs per owner waiting or running.
* `order` zset: every waiting job in the order workers will take them. Score: the round the job runs
  in (its owner's base plus the rounds its turn is past it: its index in the owner's line at weight 1);
  member: those rounds (6 digits), the owner's stamp (15 digits), past an owner's first turn in the
  round `~` and the turn, then the job id, so that within a round owners new to it come first, by stamp,
  then those carried over, in the previous round's order, each owner's turns together (the prelude's
  "the fair order" has the rule). Rewritten for one owner's jobs whenever its line or weight changes;
  the head is `ZRANGE 0 0`, a job's place `ZRANK + 1`.
* `running` zset: jobs held by a worker, scored by their lease deadline; `paused` string.
* `events` stream: every event; `ev:{id}` stream: one job's events, under the same entry ids.
* `eta` / `eta:{shape}` lists: recent runs as "cost seconds after_s", newest first.
* `stats` hash: outcome counters; `done` / `done:{owner}` zsets: ended jobs in the order they ended
  (the last 10,000 / a user's last 100, expiring 30 days after that user's last ended job);
  `open:{origin}` set: jobs a bot process submitted whose outcome it has not acknowledged;
  `kept:{origin}` zset (by end time) / `pictures:{origin}` hash (id -> path): acknowledged ended jobs
  whose files on that bot's host wait for its retention sweep (`redis.retention`).

A job's record (`job:{id}`) expires once it has ended and been acknowledged, `max(ENDED_EVENTS_TTL,
keep_s)` seconds after the later of the two (`keep_s`: the bot's retention plus two sweeps, so its
sweep reads the record first); until its outcome is acknowledged it never expires. Trimming `done`
deletes no record: an id trimmed there whose record is still owed stays until acknowledged.
* `quota:{key}` zset: the jobs counted against a quota key (`Allowance.quota_key`, copied into the
  job's `quota` field; its whole allowance in `allowance`), scored by submission time: SUBMIT checks
  and counts in one step, and a job that fails or is cancelled leaves it (`finish`). Trimmed to the
  last day and expiring a day (and an hour) after the last job counted; see the prelude's "quotas".
* `workers` zset: worker name by last heartbeat; `worker:{name}` hash: its record. Each heartbeat sets
  the record to expire after `registry.GONE_KEPT_S` and drops the names silent that long.
* `image:{id}` string: the picture of an image-to-video job, written by the bot with a short TTL,
  made the job's by SUBMIT (no TTL) and deleted when the job ends; `video:{id}:{token}` string: a
  success's MP4, with QUEUE_VIDEO_TTL_H, deleted by its bot once fetched.
* `events` is trimmed to ~100,000 entries and to the last 24 h (by entry id: Redis's clock).
* `take:{request}` string, for one lease: the token and ids a take handed out, so a take sent again
  under the same request id (its answer lost) gets the same jobs. An end's request id is kept in its
  job's `end_req` field for the same reason; an attempt (`att`) and a submission (the job id) are
  their own request ids.
* channels `wake` (work to take) and `cancel` ("stop:{id}" ends a running call, "drop:{id}" drops one
  member of it).

Lanes: the waiting jobs that name a model (`VideoRequest.model`, copied into the job's `model` field)
wait in that model's lane, the others in lane ''. Each lane is a fair order of its own (its own lines,
rounds and `order`), under the keys above for lane '' and under `lane:{model}:` for a named one
(`lane:{model}:order`, `...:lines`, `...:stamps`, `...:served`, `...:turns`, `...:line:{owner}`; its round in the
`sched` field `round:{model}`); `lanes` hash: waiting jobs per named lane (a lane with none has no
field). A worker takes from its model's lane or lane '', the head submitted first of the two (TAKE); a
batch is cut from one lane, so it never mixes models. A job's place is its place in its lane, its ETA
counts the jobs ahead of it there, the jobs running on the workers serving that model (`runs_on`, set by
TAKE) and those workers (`lane:{model}:workers` zset, by last heartbeat, next to `workers`); with none
alive it has no ETA. `lane:{model}:eta` / `lane:{model}:eta:{shape}`: that model's recent runs (models
differ tenfold in speed; these and `lane:{model}:workers` expire once the model is no longer run /
served); `eta` / `eta:{shape}` hold every run, for lane ''. So fairness is per member within each model:
a member's job for one model never waits behind their own (or anyone's) job for another, and a model
whose workers are all busy holds up no other model's jobs.

The fair order is `FairScheduler`'s (see `generation.queue.scheduler`): owners go in rounds, as many
jobs each per round as their weight (the job field `weight` of their latest waiting job), ranked within
a round by when they were last served. It is kept, not replayed: a
submit, take, end, cancel or put-back changes one owner's entries in its lane's `order` (O(that owner's
jobs × log n)), and no script reads more than a bounded slice of a line, whatever its depth (nor more
than one `ZCARD` per lane).

Places are announced (`queued` events) in two tiers, per lane. The first `NEAR_PLACES` (50, prelude) of
a lane are walked by every script that moves it, and each job there whose place changed is told at once,
with an ETA summed job by job; those are the places a user watches count down, and more than /queue
shows. Past them, FAR_PLACES is run by the bot every `FAR_PLACES_EVERY_S` in chunks of 200, lane after
lane, and tells a job its place only once it moved by a tenth since it was last told, with an ETA
extrapolated from the near line's mean: announcing every waiting job on every take cost a stream entry
per job per take (ten takes at 10,000 waiting filled the events stream) and is why a take took seconds.
A job's first place (new, or put back) is told at once wherever it is; `VIEW` gives any job's exact
place.
"""

from __future__ import annotations

from typing import Final

from generation.queue.redis.prelude import PRELUDE, lua_source


def _script(name: str) -> str:
    return PRELUDE + lua_source(name)


SUBMIT: Final = _script("submit")

TAKE: Final = _script("take")

BEGIN: Final = _script("begin")

PROGRESS: Final = _script("progress")

END: Final = _script("end")

HEARTBEAT: Final = _script("heartbeat")

CANCEL: Final = _script("cancel")

PUT_BACK: Final = _script("put_back")

RECLAIM: Final = _script("reclaim")

CLEAR: Final = _script("clear")

VIEW: Final = _script("view")

ACTIVE: Final = _script("active")

FAR_PLACES: Final = _script("far_places")

INDEX_ORDER: Final = _script("index_order")

LEARN: Final = _script("learn")

SET_CONTEXT: Final = _script("set_context")

ACK: Final = _script("ack")

LOST: Final = _script("lost")

QUOTA: Final = _script("quota")
