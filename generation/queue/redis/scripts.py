"""The Lua scripts that change the queue's state in Redis, each one atomic.

Every script is called the same way: ARGV[1] the key prefix, ARGV[2] empty (the script reads Redis's
`TIME`, the one clock every process shares) or, in tests only, the time on a fake clock, ARGV[3] a
JSON object of arguments; it answers a JSON document. They share the helpers in `prelude.PRELUDE`, prepended to each.

Keys (under the prefix):

* `job:{id}` hash: the job (see `codec.py` for its fields; `pos`: the place last announced to it);
  `line:{owner}` list: an owner's waiting jobs in order; `lines` / `stamps` hashes: per owner with jobs
  waiting, the round its head runs in and its rank within a round; `served` hash: owners served in the
  current round; `sched` hash: `round`, `stamps`, `waiting`, `token` counters, `far_at` (when the
  last pass of far places began) and `ordered` (set once `order` holds every line: INDEX_ORDER);
  `held` hash: jobs per owner waiting or running.
* `order` zset: every waiting job in the order workers will take them. Score: the round the job runs
  in (its owner's base plus its index in the owner's line); member: the index (6 digits), the owner's
  stamp (15 digits) and the job id, so that within a round owners new to it come first, by stamp, then
  those carried over, in the previous round's order. Rewritten for one owner's jobs whenever its line
  changes; the head is `ZRANGE 0 0`, a job's place `ZRANK + 1`.
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

The fair order is `FairScheduler`'s (see `generation.queue.scheduler`): owners go in rounds, one job
each per round, ranked within a round by when they were last served. It is kept, not replayed: a
submit, take, end, cancel or put-back changes one owner's entries in `order` (O(that owner's jobs ×
log n)), and no script reads more than a bounded slice of the line, whatever its depth.

Places are announced (`queued` events) in two tiers. The first `NEAR_PLACES` (50, prelude) are walked
by every script that moves the line, and each job there whose place changed is told at once, with an
ETA summed job by job; those are the places a user watches count down, and more than /queue shows.
Past them, FAR_PLACES is run by the bot every `FAR_PLACES_EVERY_S` in chunks of 200 and tells a job
its place only once it moved by a tenth since it was last told, with an ETA extrapolated from the
near line's mean: announcing every waiting job on every take cost a stream entry per job per take
(ten takes at 10,000 waiting filled the events stream) and is why a take took seconds. A job's first
place (new, or put back) is told at once wherever it is; `VIEW` gives any job's exact place.
"""

from __future__ import annotations

from typing import Final

from generation.queue.redis.prelude import PRELUDE


def _script(body: str) -> str:
    return PRELUDE + body


SUBMIT: Final = _script(r"""
-- The same submission again (its answer was lost on the way): queued once.
if redis.call('EXISTS', job_key(A.id)) == 1 then return cjson.encode({job = job_table(A.id)}) end
if redis.call('EXISTS', K('paused')) == 1 then return cjson.encode({error = 'paused'}) end
local owner = A.owner
local held = tonumber(hget(K('held'), owner) or '0')
if held >= A.max_per_user then return cjson.encode({error = 'user', held = held}) end
local waiting = sched('waiting')
if waiting >= A.max_jobs then return cjson.encode({error = 'full', waiting = waiting}) end
local key = job_key(A.id)
local fields = {'status', 'queued', 'submitted_at', NOW, 'attempts', '0', 'crashes', '0',
  'seq', redis.call('HINCRBY', K('sched'), 'submitted', 1)}
for k, v in pairs(A.fields) do fields[#fields + 1] = k; fields[#fields + 1] = v end
redis.call('HSET', key, unpack(fields))
redis.call('PERSIST', K('image:', A.id))  -- written with a short TTL by the bot; now the job's, until it ends
redis.call('HINCRBY', K('held'), owner, 1)
line_push(owner, A.id, false)
redis.call('SADD', K('open:', A.fields.origin), A.id)
local line = reposition(A.lease, {[A.id] = 'new'})
redis.call('PUBLISH', K('wake'), A.id)
return cjson.encode({job = view(A.id, line)})
""")

TAKE: Final = _script(r"""
-- The same request again (its answer was lost on the way): the same jobs, those still held.
local taken = A.req and redis.call('GET', K('take:', A.req))
if taken then
  taken = cjson.decode(taken)
  local again = {}
  for _, id in ipairs(taken.ids) do
    if held_by(id, taken.token) then again[#again + 1] = job_table(id) end
  end
  return cjson.encode({jobs = again, token = taken.token})
end
if redis.call('EXISTS', K('paused')) == 1 then return cjson.encode({jobs = {}}) end
local first = waiting_ids(1, 1)
if #first == 0 then return cjson.encode({jobs = {}}) end
local head = job_table(first[1])
local limit = A.by_shape[head.shape] or A.default
if limit > A.default then limit = A.default end
if limit < 1 then limit = 1 end
-- The batch is the run of same-shape jobs at the head: taking them one by one is taking the line's head.
local batch = {{id = first[1], owner = head.owner}}
if limit > 1 and head.alone ~= '1' then
  for i, id in ipairs(waiting_ids(2, limit)) do
    local owner, shape, alone = unpack(redis.call('HMGET', job_key(id), 'owner', 'shape', 'alone'))
    if shape ~= head.shape or alone == '1' then break end
    batch[#batch + 1] = {id = id, owner = owner}
  end
end
local token = tostring(redis.call('HINCRBY', K('sched'), 'token', 1))
local jobs = {}
for _, e in ipairs(batch) do
  take_head(e.owner)
  redis.call('HSET', job_key(e.id), 'token', token, 'worker', A.worker)
  redis.call('HDEL', job_key(e.id), 'pos')
  redis.call('ZADD', K('running'), now + A.lease, e.id)
  jobs[#jobs + 1] = job_table(e.id)
end
reposition(A.lease, {})
local ids = {}
for _, e in ipairs(batch) do ids[#ids + 1] = e.id end
if A.req then
  redis.call('SET', K('take:', A.req), cjson.encode({token = token, ids = ids}), 'PX', math.ceil(A.lease * 1000))
end
return cjson.encode({jobs = jobs, token = token})
""")

BEGIN: Final = _script(r"""
local members, cost = {}, 0
for _, id in ipairs(A.ids) do
  if held_by(id, A.token) then
    members[#members + 1] = id
    cost = cost + tonumber(hget(job_key(id), 'cost'))
  end
end
local att = A.token .. ':' .. A.attempt
-- The same attempt again (its answer was lost on the way) is counted and announced once.
if #members > 0 and hget(job_key(members[1]), 'att') ~= att then
  for _, id in ipairs(members) do
    local key = job_key(id)
    local started = hget(key, 'started_at') or NOW
    redis.call('HSET', key, 'status', 'running', 'started_at', started, 'att', att, 'att_start', NOW,
      'att_cost', cost, 'att_members', table.concat(members, ' '), 'step', 0, 'total', 0)
    redis.call('HINCRBY', key, 'attempts', 1)
  end
  for _, id in ipairs(members) do
    local eta = estimate(hget(job_key(id), 'shape'), cost)
    emit(id, {'kind', 'started', 'batch', #members, 'eta', eta and tostring(eta) or ''})
  end
end
local rows = {}
for _, id in ipairs(members) do rows[#rows + 1] = job_table(id) end
return cjson.encode({started = rows})
""")

PROGRESS: Final = _script(r"""
for _, id in ipairs(A.ids) do
  local key = job_key(id)
  if held_by(id, A.token) then
    redis.call('HSET', key, 'step', A.step, 'total', A.total)
    local elapsed = now - tonumber(hget(key, 'att_start') or NOW)
    emit(id, {'kind', 'progress', 'step', A.step, 'total', A.total, 'elapsed', tostring(elapsed)})
  end
end
return cjson.encode({})
""")

END: Final = _script(r"""
local id = A.id
local key = job_key(id)
-- The same request again (its answer was lost on the way): it ended then; say so again.
if A.req and hget(key, 'end_req') == A.req then return cjson.encode({ended = true, job = job_table(id)}) end
if not held_by(id, A.token) then return cjson.encode({ended = false}) end
local kind = A.ending.kind
if kind == 'succeeded' then
  local e = A.ending
  -- The key is derived here, as `codec.video_key` does, never taken from the worker: no worker can
  -- make the bot deliver another key's bytes.
  finish(id, 'succeeded', {'seed', e.seed, 'video_key', K('video:', id, ':', A.token), 'video', e.video,
    'timings', e.timings, 'batch_size', e.batch_size}, {'kind', 'finished'})
  -- Never recreated without its expiry (see HEARTBEAT) by a worker whose record already went.
  if redis.call('EXISTS', K('worker:', A.worker)) == 1 then redis.call('HINCRBY', K('worker:', A.worker), 'done', 1) end
elseif kind == 'failed' then
  finish(id, 'failed', {'error', A.ending.reason}, {'kind', 'failed', 'reason', A.ending.reason})
else
  local by = A.ending.by or hget(key, 'cancel_by') or 'unknown'
  cancel_now(id, by)
end
if A.req then redis.call('HSET', key, 'end_req', A.req) end
return cjson.encode({ended = true, job = job_table(id)})
""")

HEARTBEAT: Final = _script(r"""
local cancelled, lost = {}, {}
for id, token in pairs(A.held) do
  if held_by(id, token) then
    redis.call('ZADD', K('running'), 'XX', now + A.lease, id)
    if hget(job_key(id), 'cancel_by') then cancelled[#cancelled + 1] = id end
  else
    lost[#lost + 1] = id
  end
end
local record = {'last_beat', NOW}
for k, v in pairs(A.record) do record[#record + 1] = k; record[#record + 1] = v end
redis.call('HSET', K('worker:', A.worker), unpack(record))
redis.call('EXPIRE', K('worker:', A.worker), A.gone_s)  -- a dead worker's record goes by itself
redis.call('ZADD', K('workers'), now, A.worker)
redis.call('ZREMRANGEBYSCORE', K('workers'), '-inf', '(' .. (now - A.gone_s))
return cjson.encode({cancelled = cancelled, lost = lost})
""")

CANCEL: Final = _script(r"""
local id = A.id
local j = job_table(id)
if j == nil then return cjson.encode({}) end
if TERMINAL[j.status] then return cjson.encode({job = j}) end
if redis.call('ZSCORE', K('running'), id) == false then
  cancel_now(id, A.by)
  reposition(A.lease, {})
  return cjson.encode({job = job_table(id)})
end
if j.cancel_by == nil then redis.call('HSET', job_key(id), 'cancel_by', A.by) end
-- The call stops only when nobody in it wants its result any more; otherwise this member ends now.
local others_wanted = false
if j.att and j.att ~= '' then
  for member in string.gmatch(j.att_members, '%S+') do
    if member ~= id and redis.call('ZSCORE', K('running'), member) and hget(job_key(member), 'cancel_by') == nil
      and hget(job_key(member), 'att') == j.att then
      others_wanted = true
    end
  end
end
if j.att and j.att ~= '' and not others_wanted then
  redis.call('PUBLISH', K('cancel'), 'stop:' .. id)
  local v = view(id, nil)
  v.cancelled_by = hget(job_key(id), 'cancel_by')
  return cjson.encode({job = v})
end
cancel_now(id, hget(job_key(id), 'cancel_by'))
redis.call('PUBLISH', K('cancel'), 'drop:' .. id)
return cjson.encode({job = job_table(id)})
""")

PUT_BACK: Final = _script(r"""
local back = {}
local any = false
for _, id in ipairs(A.ids) do
  if held_by(id, A.token) then
    local by = hget(job_key(id), 'cancel_by')
    if by then
      cancel_now(id, by)
    else
      requeue(id, {})
      back[id] = 'recovered'
      any = true
    end
  end
end
if any then
  reposition(A.lease, back)
  redis.call('PUBLISH', K('wake'), 'back')
end
return cjson.encode({})
""")

RECLAIM: Final = _script(r"""
local expired = redis.call('ZRANGEBYSCORE', K('running'), '-inf', '(' .. NOW)
local back, failed, requeued = {}, {}, false
for _, id in ipairs(expired) do
  local key = job_key(id)
  local crashes = redis.call('HINCRBY', key, 'crashes', 1)
  local by = hget(key, 'cancel_by')
  if by then
    cancel_now(id, by)  -- its user cancelled it: not worth another worker
  elseif crashes >= A.max_attempts then
    local reason = 'this job stopped ' .. crashes .. ' GPU workers, so it will not be run again'
    finish(id, 'failed', {'error', reason}, {'kind', 'failed', 'reason', reason})
    failed[#failed + 1] = id
  else
    requeue(id, {'alone', '1'})
    back[id] = 'recovered'
    requeued = true
  end
end
if requeued then
  reposition(A.lease, back)
  redis.call('PUBLISH', K('wake'), 'reclaimed')
end
return cjson.encode({expired = expired, failed = failed})
""")

CLEAR: Final = _script(r"""
-- Up to `count` jobs from the end of the line, last first: a job cancelled at the end moves nobody.
-- Each entry leaves `order` even if its record disagrees (not waiting), so a clear always ends.
local cleared = {}
local members = redis.call('ZRANGE', K('order'), -A.count, -1)
for i = #members, 1, -1 do
  local id = member_id(members[i])
  cancel_now(id, A.by)
  redis.call('ZREM', K('order'), members[i])
  cleared[#cleared + 1] = job_table(id)
end
return cjson.encode({jobs = cleared, more = redis.call('ZCARD', K('order')) > 0})
""")

VIEW: Final = _script(r"""
local line = #A.ids > 0 and near_line(A.lease)
local out = {}
for _, id in ipairs(A.ids) do
  local v = view(id, line)
  if v then out[#out + 1] = v end
end
return cjson.encode({jobs = out})
""")

ACTIVE: Final = _script(r"""
-- Held jobs by submission (when `start` is 1), then up to `count` waiting ones from place `start`.
local ids = {}
if A.start == 1 then
  local running = redis.call('ZRANGE', K('running'), 0, -1)
  table.sort(running, function(a, b)
    return tonumber(hget(job_key(a), 'seq')) < tonumber(hget(job_key(b), 'seq'))
  end)
  for _, id in ipairs(running) do ids[#ids + 1] = id end
end
local waiting = waiting_ids(A.start, A.start + A.count - 1)
for _, id in ipairs(waiting) do ids[#ids + 1] = id end
return cjson.encode({ids = ids, more = #waiting == A.count})
""")

FAR_PLACES: Final = _script(r"""
-- One chunk (`count` jobs from place `start`; a pass begins past the near line) of the pass that
-- announces the places past the near line. Coalesced twice: a pass begins at most once every `every`
-- seconds, whichever bot process asks; and a far job is told its place again only once that moved by a
-- tenth (counting #4,321 down one by one would be a stream entry per waiting job per take).
local start = A.start
if A.begin then
  local last = num(hget(K('sched'), 'far_at'))
  if last and now < last + A.every then return cjson.encode({told = 0}) end
  redis.call('HSET', K('sched'), 'far_at', NOW)
  start = NEAR_PLACES + 1
end
local line = near_line(A.lease)
local ids = waiting_ids(start, start + A.count - 1)
local told = 0
for i, id in ipairs(ids) do
  local place = start + i - 1
  local was = num(hget(job_key(id), 'pos'))
  if was == nil or (was ~= place and math.abs(was - place) * 10 >= was) then
    announce(id, place, eta_at(line, place), false)
    told = told + 1
  end
end
local answer = {told = told}
if #ids == A.count then answer.next = start + A.count end
return cjson.encode(answer)
""")

INDEX_ORDER: Final = _script(r"""
-- Lines written before `order` existed (an upgrade with jobs waiting): the jobs of about `count` owners
-- from HSCAN cursor `cursor` of `lines` into `order`. Adding an owner's entries again changes nothing.
local reply = redis.call('HSCAN', K('lines'), A.cursor, 'COUNT', A.count)
local flat = reply[2]
for i = 1, #flat, 2 do owner_entries(flat[i], true) end
if reply[1] == '0' then redis.call('HSET', K('sched'), 'ordered', 1) end
return cjson.encode({cursor = reply[1]})
""")

LEARN: Final = _script(r"""
local sample = A.cost .. ' ' .. A.seconds .. ' ' .. A.after
for _, key in ipairs({K('eta'), K('eta:', A.shape)}) do
  redis.call('LPUSH', key, sample)
  redis.call('LTRIM', key, 0, A.window - 1)
end
redis.call('EXPIRE', K('eta:', A.shape), ENDED_EVENTS_TTL)
return cjson.encode({})
""")

SET_CONTEXT: Final = _script(r"""
if redis.call('EXISTS', job_key(A.id)) == 0 then return cjson.encode({found = false}) end
redis.call('HSET', job_key(A.id), 'context', A.context)
return cjson.encode({found = true})
""")

ACK: Final = _script(r"""
local key = job_key(A.id)
if redis.call('EXISTS', key) == 0 then return cjson.encode({found = false}) end
redis.call('SREM', K('open:', A.origin), A.id)
local ttl = math.ceil(math.max(ENDED_EVENTS_TTL, A.keep_s))
redis.call('HSET', key, 'ack_ttl', ttl, 'ack_origin', A.origin)
if TERMINAL[hget(key, 'status')] then settle_acknowledged(A.id) end
return cjson.encode({found = true})
""")

LOST: Final = _script(r"""
local key = job_key(A.id)
if redis.call('EXISTS', key) == 1 then return cjson.encode({recorded = false}) end
-- Written back as submitted, then failed the way every job ends: the bot tells its user as usual, Re-roll
-- finds its request, its acknowledgement settles it. 'lost' is never seen: `finish` overwrites it here.
local fields = {'status', 'lost', 'submitted_at', A.submitted_at, 'attempts', '0', 'crashes', '0',
  'seq', redis.call('HINCRBY', K('sched'), 'submitted', 1)}
for k, v in pairs(A.fields) do fields[#fields + 1] = k; fields[#fields + 1] = v end
redis.call('HSET', key, unpack(fields))
redis.call('HINCRBY', K('held'), A.fields.owner, 1)  -- counted as SUBMIT counts a job, for `finish` to count off
redis.call('SADD', K('open:', A.fields.origin), A.id)
finish(A.id, 'failed', {'error', A.reason}, {'kind', 'failed', 'reason', A.reason})
return cjson.encode({recorded = true})
""")
