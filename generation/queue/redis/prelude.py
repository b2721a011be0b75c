"""The Lua every script (`scripts.py`) starts with: its arguments, keys, events, estimates, the fair
order and how a job ends. Kept in one string so each script stays one atomic `EVALSHA`.
"""

from __future__ import annotations

from typing import Final

PRELUDE: Final = r"""
local P = ARGV[1]
local NOW = ARGV[2]
local now = tonumber(NOW)
local A = cjson.decode(ARGV[3])
local ENDED_EVENTS_TTL = 7 * 24 * 3600
local EVENTS_KEPT = 100000
local DONE_KEPT = 10000
-- Memory bounds (docs/deploy.md, "Redis memory"): the events stream by age as well as by length (a bot
-- away longer catches up on what it owes through each job's own `ev:{id}`), and a user's history.
local EVENTS_MAX_AGE_MS = 24 * 3600 * 1000
local DONE_PER_USER_KEPT = 100
local DONE_IDLE_TTL = 30 * 24 * 3600
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
  -- The entry's id is Redis's own clock, whatever clock the caller has.
  local entry_ms = tonumber(string.match(entry, '^(%d+)'))
  redis.call('XTRIM', K('events'), 'MINID', string.format('%d', entry_ms - EVENTS_MAX_AGE_MS))
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
-- A job both ended and acknowledged (see ACK, which left `ack_*` fields): its record expires after
-- `ack_ttl` s, and its files on that bot's host are recorded for the bot's retention sweep:
-- `kept:{origin}` by end time, `pictures:{origin}` the picture's path (recorded even while the bot keeps
-- files forever, as the local queue's database does, so a retention set later still finds them).
-- Until then (waiting, running, or ended with its outcome still owed) the record never expires.
local function settle_acknowledged(id)
  local key = job_key(id)
  local origin = hget(key, 'ack_origin')
  redis.call('ZADD', K('kept:', origin), hget(key, 'finished_at'), id)
  local image = cjson.decode(hget(key, 'request')).image
  if type(image) == 'string' then redis.call('HSET', K('pictures:', origin), id, image) end
  redis.call('EXPIRE', key, tonumber(hget(key, 'ack_ttl')))
end

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
  redis.call('ZADD', K('done'), seq, id)
  redis.call('ZREMRANGEBYRANK', K('done'), 0, -DONE_KEPT - 1)
  local mine = K('done:', owner)
  redis.call('ZADD', mine, seq, id)
  redis.call('ZREMRANGEBYRANK', mine, 0, -DONE_PER_USER_KEPT - 1)
  redis.call('EXPIRE', mine, DONE_IDLE_TTL)
  redis.call('DEL', K('image:', id))
  emit(id, event)
  redis.call('EXPIRE', K('ev:', id), ENDED_EVENTS_TTL)
  if hget(key, 'ack_ttl') then settle_acknowledged(id) end  -- acknowledged before it ended
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
