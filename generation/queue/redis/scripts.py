"""The Lua scripts that change the queue's state in Redis, each one atomic.

Every script is called the same way: ARGV[1] the key prefix, ARGV[2] the time now on the caller's
`Clock` (never Redis's own, so tests drive leases and ETAs with a fake clock), ARGV[3] a JSON object
of arguments; it answers a JSON document. They share the helpers in `_COMMON`, prepended to each.

Keys (under the prefix):

* `job:{id}` hash: the job (see `codec.py` for its fields); `line:{owner}` list: an owner's waiting
  jobs in order; `lines` / `stamps` hashes: per owner with jobs waiting, the round its head runs in
  and its rank within a round; `served` hash: owners served in the current round; `sched` hash:
  `round`, `stamps`, `waiting`, `token` counters; `held` hash: jobs per owner waiting or running.
* `running` zset: jobs held by a worker, scored by their lease deadline; `paused` string.
* `events` stream: every event; `ev:{id}` stream: one job's events, under the same entry ids.
* `eta` / `eta:{shape}` lists: recent runs as "cost seconds after_s", newest first.
* `stats` hash: outcome counters; `done` / `done:{owner}` zsets: ended jobs in the order they ended;
  `open:{origin}` set: jobs a bot process submitted whose outcome it has not acknowledged.
* `workers` zset: worker name by last heartbeat; `worker:{name}` hash: its record.
* channels `wake` (work to take) and `cancel` ("stop:{id}" ends a running call, "drop:{id}" drops one
  member of it).

The fair order is `FairScheduler`'s (see `generation.queue.scheduler`), replayed here: owners go in
rounds, one job each per round, ranked within a round by when they were last served.
"""

from __future__ import annotations

from typing import Final

_COMMON: Final = r"""
local P = ARGV[1]
local NOW = ARGV[2]
local now = tonumber(NOW)
local A = cjson.decode(ARGV[3])
local ENDED_EVENTS_TTL = 7 * 24 * 3600
local EVENTS_KEPT = 100000
local DONE_KEPT = 10000
local TERMINAL = {succeeded = true, failed = true, cancelled = true}

local function K(...) return P .. table.concat({...}) end
local function num(v) if v == false or v == nil or v == '' then return nil end return tonumber(v) end
local function hget(key, field)
  local v = redis.call('HGET', key, field)
  if v == false then return nil end
  return v
end
local function sched(field) return tonumber(hget(K('sched'), field) or '0') end
local function job_key(id) return K('job:', id) end

local function job_table(id)
  local flat = redis.call('HGETALL', job_key(id))
  if #flat == 0 then return nil end
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

-- events -----------------------------------------------------------------------------------------
local function emit(id, fields)
  local args = {'XADD', K('events'), 'MAXLEN', '~', EVENTS_KEPT, '*', 'job', id}
  for _, v in ipairs(fields) do args[#args + 1] = v end
  local entry = redis.call(unpack(args))
  args = {'XADD', K('ev:', id), entry, 'job', id}
  for _, v in ipairs(fields) do args[#args + 1] = v end
  redis.call(unpack(args))
  return entry
end

-- estimates --------------------------------------------------------------------------------------
local rate_cache = {}
local function rates(shape)
  local cached = rate_cache[shape]
  if cached then return cached[1], cached[2] end
  local samples = redis.call('LRANGE', K('eta:', shape), 0, -1)
  if #samples == 0 then samples = redis.call('LRANGE', K('eta'), 0, -1) end
  local r, a = nil, nil
  if #samples > 0 then
    local c, s, after = 0, 0, 0
    for _, x in ipairs(samples) do
      local cc, ss, aa = string.match(x, '(%S+) (%S+) (%S+)')
      c = c + tonumber(cc); s = s + tonumber(ss); after = after + tonumber(aa)
    end
    r, a = s / c, after / c
  end
  rate_cache[shape] = {r, a}
  return r, a
end

local function estimate(shape, cost)
  local r = rates(shape)
  if r == nil then return nil end
  return r * cost
end

local function live_workers(lease)
  local n = redis.call('ZCOUNT', K('workers'), now - lease, '+inf')
  if n < 1 then return 1 end
  return n
end

-- Seconds until the running jobs with fencing token `only` (all running jobs when nil) are done.
local function running_remaining(only)
  local total = 0
  local seen = {}
  for _, id in ipairs(redis.call('ZRANGE', K('running'), 0, -1)) do
    local j = job_table(id)
    if j and (only == nil or j.token == only) then
      local part
      if j.att and j.att ~= '' then
        if not seen[j.att] then
          seen[j.att] = true
          local cost = tonumber(j.att_cost)
          local elapsed = now - tonumber(j.att_start)
          local step, steps = tonumber(j.step or '0'), tonumber(j.total or '0')
          if step > 0 and steps > 0 then
            local _, after = rates(j.shape)
            part = math.max(0, elapsed / step * (steps - step)) + (after and cost * after or 0)
          else
            local e = estimate(j.shape, cost)
            part = e and math.max(0, e - elapsed)
          end
        else
          part = 0
        end
      else
        part = estimate(j.shape, tonumber(j.cost))
      end
      if part == nil then return nil end
      total = total + part
    end
  end
  return total
end

-- the fair order ---------------------------------------------------------------------------------
local function next_stamp() return redis.call('HINCRBY', K('sched'), 'stamps', 1) end

local function line_push(owner, id, front)
  if not hget(K('lines'), owner) then
    local served = hget(K('served'), owner)
    local base = served and (tonumber(served) + 1) or sched('round')
    redis.call('HSET', K('lines'), owner, base)
    redis.call('HSET', K('stamps'), owner, next_stamp())
  end
  if front then redis.call('LPUSH', K('line:', owner), id) else redis.call('RPUSH', K('line:', owner), id) end
  redis.call('HINCRBY', K('sched'), 'waiting', 1)
end

local function line_remove(owner, id)
  local removed = redis.call('LREM', K('line:', owner), 1, id)
  if removed == 0 then return false end
  if redis.call('LLEN', K('line:', owner)) == 0 then
    redis.call('HDEL', K('lines'), owner)
    redis.call('HDEL', K('stamps'), owner)
  end
  redis.call('HINCRBY', K('sched'), 'waiting', -1)
  return true
end

-- Every waiting job in the order workers will take them: {id, owner} each.
local function order()
  local flat = redis.call('HGETALL', K('lines'))
  local heads = {}
  for i = 1, #flat, 2 do
    local owner = flat[i]
    heads[#heads + 1] = {tonumber(flat[i + 1]), tonumber(hget(K('stamps'), owner)), owner, 1,
      redis.call('LRANGE', K('line:', owner), 0, -1)}
  end
  local stamps = sched('stamps')
  local out = {}
  while #heads > 0 do
    local best = 1
    for i = 2, #heads do
      local a, b = heads[i], heads[best]
      if a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) then best = i end
    end
    local e = heads[best]
    out[#out + 1] = {id = e[5][e[4]], owner = e[3]}
    if e[4] < #e[5] then
      stamps = stamps + 1
      e[1], e[2], e[4] = e[1] + 1, stamps, e[4] + 1
    else
      table.remove(heads, best)
    end
  end
  return out
end

local function take_head(owner)
  local base = tonumber(hget(K('lines'), owner))
  local id = redis.call('LPOP', K('line:', owner))
  if base > sched('round') then
    redis.call('HSET', K('sched'), 'round', base)
    redis.call('DEL', K('served'))
  end
  redis.call('HSET', K('served'), owner, base)
  if redis.call('LLEN', K('line:', owner)) > 0 then
    redis.call('HSET', K('lines'), owner, base + 1)
    redis.call('HSET', K('stamps'), owner, next_stamp())
  else
    redis.call('HDEL', K('lines'), owner)
    redis.call('HDEL', K('stamps'), owner)
  end
  redis.call('HINCRBY', K('sched'), 'waiting', -1)
  return id
end

-- Waiting jobs with their positions and ETAs; announces every changed place (recovered: `back` ids).
local function reposition(lease, back)
  local line = order()
  local workers = live_workers(lease)
  local eta = running_remaining(nil)
  local places = {}
  for position, e in ipairs(line) do
    local key = job_key(e.id)
    local shape, cost = unpack(redis.call('HMGET', key, 'shape', 'cost'))
    if eta ~= nil then
      local est = estimate(shape, tonumber(cost))
      if est == nil then eta = nil else eta = eta + est end
    end
    local eta_s = eta and eta / workers
    places[e.id] = {position, eta_s}
    local recovered = back ~= nil and back[e.id] == true
    if recovered or hget(key, 'pos') ~= tostring(position) then
      redis.call('HSET', key, 'pos', position)
      emit(e.id, {'kind', 'queued', 'position', position, 'eta', eta_s and tostring(eta_s) or '',
        'recovered', recovered and '1' or '0'})
    end
  end
  return places
end

local function view(id, places)
  local j = job_table(id)
  if j == nil then return nil end
  if not TERMINAL[j.status] then
    if redis.call('ZSCORE', K('running'), id) then
      j.position = 0
      j.eta = running_remaining(j.token)
    elseif places[id] then
      j.position = places[id][1]
      j.eta = places[id][2]
    end
  end
  return j
end

-- ending -----------------------------------------------------------------------------------------
-- End a live job (waiting or held by a worker) as `status` with extra `fields`; emits its terminal event.
local function finish(id, status, fields, event)
  local key = job_key(id)
  local owner = hget(key, 'owner')
  if hget(key, 'status') == 'queued' and redis.call('ZSCORE', K('running'), id) == false then
    line_remove(owner, id)
  end
  redis.call('ZREM', K('running'), id)
  if redis.call('HINCRBY', K('held'), owner, -1) <= 0 then redis.call('HDEL', K('held'), owner) end
  redis.call('HSET', key, 'status', status, 'finished_at', NOW, unpack(fields))
  redis.call('HDEL', key, 'pos', 'cancel_by')
  redis.call('HINCRBY', K('stats'), status, 1)
  if status == 'succeeded' then
    local started = num(hget(key, 'started_at'))
    if started then redis.call('HINCRBYFLOAT', K('stats'), 'succeeded_s', now - started) end
  end
  local seq = redis.call('HINCRBY', K('sched'), 'ended', 1)
  for _, zset in ipairs({K('done'), K('done:', owner)}) do
    redis.call('ZADD', zset, seq, id)
    redis.call('ZREMRANGEBYRANK', zset, 0, -DONE_KEPT - 1)
  end
  emit(id, event)
  redis.call('EXPIRE', K('ev:', id), ENDED_EVENTS_TTL)
end

local function cancel_now(id, by)
  finish(id, 'cancelled', {'cancelled_by', by}, {'kind', 'cancelled', 'by', by})
end

-- Back to the front of its owner's line (the job was running, so it was the owner's earliest).
local function requeue(id, fields)
  local key = job_key(id)
  redis.call('ZREM', K('running'), id)
  redis.call('HDEL', key, 'token', 'worker', 'att', 'att_start', 'att_cost', 'att_members', 'step', 'total',
    'started_at', 'pos')
  redis.call('HSET', key, 'status', 'queued', unpack(fields))
  line_push(hget(key, 'owner'), id, true)
end

local function held_by(id, token)
  return hget(job_key(id), 'token') == token and redis.call('ZSCORE', K('running'), id) ~= false
end
"""


def _script(body: str) -> str:
    return _COMMON + body


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
  redis.call('HINCRBY', K('worker:', A.worker), 'done', 1)
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
redis.call('ZADD', K('workers'), now, A.worker)
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
