"""The Lua scripts that change the queue's state in Redis, each one atomic.

Every script is called the same way: ARGV[1] the key prefix, ARGV[2] the time now on the caller's
`Clock` (never Redis's own, so tests drive leases and ETAs with a fake clock), ARGV[3] a JSON object
of arguments; it answers a JSON document. They share the helpers in `prelude.PRELUDE`, prepended to each.

Keys (under the prefix):

* `job:{id}` hash: the job (see `codec.py` for its fields); `line:{owner}` list: an owner's waiting
  jobs in order; `lines` / `stamps` hashes: per owner with jobs waiting, the round its head runs in
  and its rank within a round; `served` hash: owners served in the current round; `sched` hash:
  `round`, `stamps`, `waiting`, `token` counters; `held` hash: jobs per owner waiting or running.
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
* channels `wake` (work to take) and `cancel` ("stop:{id}" ends a running call, "drop:{id}" drops one
  member of it).

The fair order is `FairScheduler`'s (see `generation.queue.scheduler`), replayed here: owners go in
rounds, one job each per round, ranked within a round by when they were last served.
"""

from __future__ import annotations

from typing import Final

from generation.queue.redis.prelude import PRELUDE


def _script(body: str) -> str:
    return PRELUDE + body


SUBMIT: Final = _script(r"""
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
local places = reposition(A.lease, nil)
redis.call('PUBLISH', K('wake'), A.id)
return cjson.encode({job = view(A.id, places)})
""")

TAKE: Final = _script(r"""
if redis.call('EXISTS', K('paused')) == 1 then return cjson.encode({jobs = {}}) end
local line = order()
if #line == 0 then return cjson.encode({jobs = {}}) end
local head = job_table(line[1].id)
local limit = A.by_shape[head.shape] or A.default
if limit > A.default then limit = A.default end
if limit < 1 then limit = 1 end
local batch = {}
for i = 1, math.min(limit, #line) do
  local j = (i == 1) and head or job_table(line[i].id)
  if i > 1 and (j.shape ~= head.shape or j.alone == '1' or head.alone == '1') then break end
  batch[#batch + 1] = line[i]
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
reposition(A.lease, nil)
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
if not held_by(id, A.token) then return cjson.encode({ended = false}) end
local key = job_key(id)
local kind = A.ending.kind
if kind == 'succeeded' then
  local e = A.ending
  finish(id, 'succeeded', {'seed', e.seed, 'video_key', e.video_key, 'video', e.video, 'timings', e.timings,
    'batch_size', e.batch_size}, {'kind', 'finished'})
  -- Never recreated without its expiry (see HEARTBEAT) by a worker whose record already went.
  if redis.call('EXISTS', K('worker:', A.worker)) == 1 then redis.call('HINCRBY', K('worker:', A.worker), 'done', 1) end
elseif kind == 'failed' then
  finish(id, 'failed', {'error', A.ending.reason}, {'kind', 'failed', 'reason', A.ending.reason})
else
  local by = A.ending.by or hget(key, 'cancel_by') or 'unknown'
  cancel_now(id, by)
end
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
  local places = reposition(A.lease, nil)
  return cjson.encode({job = view(id, places)})
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
  local v = view(id, {})
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
      back[id] = true
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
    back[id] = true
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
local cleared = {}
for _, e in ipairs(order()) do
  cancel_now(e.id, A.by)
  cleared[#cleared + 1] = job_table(e.id)
end
return cjson.encode({jobs = cleared})
""")

VIEW: Final = _script(r"""
local places = {}
if #A.ids > 0 then
  local line = order()
  local workers = live_workers(A.lease)
  local eta = running_remaining(nil)
  for position, e in ipairs(line) do
    if eta ~= nil then
      local shape, cost = unpack(redis.call('HMGET', job_key(e.id), 'shape', 'cost'))
      local est = estimate(shape, tonumber(cost))
      if est == nil then eta = nil else eta = eta + est end
    end
    places[e.id] = {position, eta and eta / workers}
  end
end
local out = {}
for _, id in ipairs(A.ids) do
  local v = view(id, places)
  if v then out[#out + 1] = v end
end
return cjson.encode({jobs = out})
""")

ACTIVE: Final = _script(r"""
local ids = {}
local running = redis.call('ZRANGE', K('running'), 0, -1)
table.sort(running, function(a, b)
  return tonumber(hget(job_key(a), 'seq')) < tonumber(hget(job_key(b), 'seq'))
end)
for _, id in ipairs(running) do ids[#ids + 1] = id end
for _, e in ipairs(order()) do ids[#ids + 1] = e.id end
return cjson.encode({ids = ids})
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
