-- The prelude every script in this folder starts with (prepended by generation/queue/redis/scripts.py).
local P = ARGV[1]
-- KEYS[1] is the deployment's `sched` key: it names the one hash slot all of the deployment's keys
-- share (the prefix carries a hash tag), so a cluster routes the call to the node that holds them all.
if KEYS[1] ~= P .. 'sched' then return redis.error_reply('KEYS[1] must be the prefix followed by sched') end
-- Redis's clock, the one all processes share (Redis 7 replicates a script's effects, so TIME is
-- allowed). Only a test passes a time of its own, to drive leases with a fake clock.
local NOW = ARGV[2]
if NOW == '' then
  local t = redis.call('TIME')
  NOW = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
end
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

-- lanes ------------------------------------------------------------------------------------------
-- Each served model's waiting jobs form a lane (`lane:{model}:` keys) with a fair order, lines, rounds
-- and ETAs of its own; the jobs that name no model form lane '', under the keys the queue has always
-- used. A worker takes from its model's lane or from lane '' (TAKE), so a model whose workers are all
-- busy holds up no other model's line, and a member's turn in one lane is not spent in another.
local function LK(lane, ...)
  if lane == '' then return K(...) end
  return K('lane:', lane, ':', ...)
end
local function round_field(lane) if lane == '' then return 'round' end return 'round:' .. lane end
local function lane_of(id) return hget(job_key(id), 'model') or '' end

-- Lane '' first, then the named lanes with jobs waiting, by name (the order ACTIVE, CLEAR, FAR_PLACES walk).
local function lanes_list()
  local named = redis.call('HKEYS', K('lanes'))
  table.sort(named)
  local lanes = {''}
  for _, lane in ipairs(named) do lanes[#lanes + 1] = lane end
  return lanes
end

local function lane_waiting(lane, delta)
  redis.call('HINCRBY', K('sched'), 'waiting', delta)
  if lane ~= '' and redis.call('HINCRBY', K('lanes'), lane, delta) <= 0 then redis.call('HDEL', K('lanes'), lane) end
end

-- estimates --------------------------------------------------------------------------------------
-- Seconds per unit of cost and after it, from the recent runs of `model` (its own runs only: models
-- differ tenfold in speed), of the job's shape when there are some; model '' reads everyone's runs.
local rate_cache = {}
local function rates(model, shape)
  local cache_key = model .. '\n' .. shape
  local cached = rate_cache[cache_key]
  if cached then return cached[1], cached[2] end
  local samples = redis.call('LRANGE', LK(model, 'eta:', shape), 0, -1)
  if #samples == 0 then samples = redis.call('LRANGE', LK(model, 'eta'), 0, -1) end
  local r, a = nil, nil
  if #samples > 0 then
    local c, s, after = 0, 0, 0
    for _, x in ipairs(samples) do
      local cc, ss, aa = string.match(x, '(%S+) (%S+) (%S+)')
      c = c + tonumber(cc); s = s + tonumber(ss); after = after + tonumber(aa)
    end
    r, a = s / c, after / c
  end
  rate_cache[cache_key] = {r, a}
  return r, a
end

local function estimate(model, shape, cost)
  local r = rates(model, shape)
  if r == nil then return nil end
  return r * cost
end

-- Live workers that can run lane `lane`'s jobs: every one for lane '' (at least 1, as ever); those
-- serving the model for a named lane, nil when none does (its jobs wait for one: no ETA).
local function live_workers(lane, lease)
  local n = redis.call('ZCOUNT', LK(lane, 'workers'), now - lease, '+inf')
  if n >= 1 then return n end
  if lane == '' then return 1 end
  return nil
end

-- Seconds until the running jobs with fencing token `only` (all running jobs when nil) on workers
-- serving `on` (any worker when nil) are done.
local function running_remaining(only, on)
  local total = 0
  local seen = {}
  for _, id in ipairs(redis.call('ZRANGE', K('running'), 0, -1)) do
    local j = job_table(id)
    if j and (only == nil or j.token == only) and (on == nil or j.runs_on == on) then
      local model = j.runs_on or ''
      local part
      if j.att and j.att ~= '' then
        if not seen[j.att] then
          seen[j.att] = true
          local cost = tonumber(j.att_cost)
          local elapsed = now - tonumber(j.att_start)
          local step, steps = tonumber(j.step or '0'), tonumber(j.total or '0')
          if step > 0 and steps > 0 then
            local _, after = rates(model, j.shape)
            part = math.max(0, elapsed / step * (steps - step)) + (after and cost * after or 0)
          else
            local e = estimate(model, j.shape, cost)
            part = e and math.max(0, e - elapsed)
          end
        else
          part = 0
        end
      else
        part = estimate(model, j.shape, tonumber(j.cost))
      end
      if part == nil then return nil end
      total = total + part
    end
  end
  return total
end

-- the fair order ---------------------------------------------------------------------------------
-- A lane's `order` zset: every waiting job of the lane, scored by the round it runs in. An owner of
-- weight w (its latest waiting job's `weight`) has w turns a round, one after another: its job i takes
-- turn `used + i` (`used`: the turns of its line's base round it started already), in round
-- `base + (used + i) // w`. Within a round, owners new to it go first (by stamp), then those carried
-- over from the round before, in that round's order, each owner's turns together. So the member sorts
-- by the rounds its owner was carried over (`(used + i) // w`), its owner's stamp, its turn within the
-- round (`(used + i) % w`), then its id (for uniqueness): the zset is `FairScheduler.order()` itself,
-- read in O(log n) instead of replayed. A first turn writes no turn, so a weight-1 world's members are
-- the ones written before weights existed.
local NEAR_PLACES = 50
local ORDER_ID_AT = 22  -- where the id starts in a member: after 6 digits of rounds and 15 of stamp
local TURN_MARK = '~'  -- then, past a first turn, '~' and the turn's digit: after any id's first character
local MAX_WEIGHT = 10

local function next_stamp() return redis.call('HINCRBY', K('sched'), 'stamps', 1) end
local function order_member(rounds, stamp, turn, id)
  local member = string.format('%06d%015d', rounds, stamp)
  if turn > 0 then member = member .. TURN_MARK .. turn end
  return member .. id
end
local function member_id(member)
  if string.sub(member, ORDER_ID_AT, ORDER_ID_AT) == TURN_MARK then return string.sub(member, ORDER_ID_AT + 2) end
  return string.sub(member, ORDER_ID_AT)
end
local function lane_round(lane) return sched(round_field(lane)) end

-- A job's weight: its `weight` field, 1 to MAX_WEIGHT; anything else (a record is untrusted, and one
-- from before weights has none) counts as 1 here, and the codec refuses a bad one as damaged.
local function job_weight(id)
  local w = hget(job_key(id), 'weight')
  w = w and string.match(w, '^%d%d?$') and tonumber(w)
  if w and w >= 1 and w <= MAX_WEIGHT then return w end
  return 1
end

-- The turns the owner started in the lane's current round (none unless `served` names it; a record
-- from before weights has `served` alone: one turn).
local function turns_started(lane, owner)
  if not hget(LK(lane, 'served'), owner) then return 0 end
  return tonumber(hget(LK(lane, 'turns'), owner) or '1') or 1
end

-- An owner's line as it stands (nil when it has none): its base round, stamp, weight and the turns of
-- the base round it used (those started, but for the head's if its weight dropped below them: a lowered
-- weight counts from the owner's next round).
local function line_of(lane, owner)
  local base = num(hget(LK(lane, 'lines'), owner))
  if not base then return nil end
  local last = redis.call('LINDEX', LK(lane, 'line:', owner), -1)
  local weight = last and job_weight(last) or 1
  local used = 0
  if num(hget(LK(lane, 'served'), owner)) == base then used = math.min(turns_started(lane, owner), weight - 1) end
  return {base = base, stamp = tonumber(hget(LK(lane, 'stamps'), owner)), weight = weight, used = used}
end

-- The score and member of the job `id`, `index` (0-based) in an owner's `line` (from `line_of`).
local function order_entry(line, index, id)
  local slot = line.used + index
  local rounds = math.floor(slot / line.weight)
  return line.base + rounds, order_member(rounds, line.stamp, slot % line.weight, id)
end

-- Add an owner's waiting jobs of `lane` from index `from` (0-based; all when nil) to its `order` (`add`),
-- or take them out, as its line, base, stamp, weight and turns stand. Every change to an owner's line
-- is bracketed by the two: O(jobs of that owner × log n).
local function owner_entries(lane, owner, add, from)
  local line = line_of(lane, owner)
  if not line then return end
  from = from or 0
  for i, id in ipairs(redis.call('LRANGE', LK(lane, 'line:', owner), from, -1)) do
    local score, member = order_entry(line, from + i - 1, id)
    if add then
      redis.call('ZADD', LK(lane, 'order'), score, member)
    else
      redis.call('ZREM', LK(lane, 'order'), member)
    end
  end
end

-- `id` joins its owner's line, at the back (a submission) or at the front (a job handed back). An owner
-- with no line starts one in the current round with the turns it has not started in it, else (it
-- started its weight's worth: `id`'s weight is the line's) in the next one, with a new stamp.
local function line_push(lane, owner, id, front)
  local key = LK(lane, 'line:', owner)
  local line = line_of(lane, owner)
  if line == nil then
    local served = num(hget(LK(lane, 'served'), owner))
    local base = lane_round(lane)
    if served then base = turns_started(lane, owner) < job_weight(id) and served or served + 1 end
    redis.call('HSET', LK(lane, 'lines'), owner, base)
    redis.call('HSET', LK(lane, 'stamps'), owner, next_stamp())
    redis.call('RPUSH', key, id)
    owner_entries(lane, owner, true)
  elseif front or job_weight(id) ~= line.weight then
    -- Every place moves: the jobs behind a job handed back, or all of them with a new weight.
    owner_entries(lane, owner, false)
    redis.call(front and 'LPUSH' or 'RPUSH', key, id)
    owner_entries(lane, owner, true)
  else
    local score, member = order_entry(line, redis.call('RPUSH', key, id) - 1, id)
    redis.call('ZADD', LK(lane, 'order'), score, member)
  end
  lane_waiting(lane, 1)
end

-- The owner's later jobs move up a turn each (its base and stamp stay); the line takes the weight of
-- its latest job left.
local function line_remove(lane, owner, id)
  local key = LK(lane, 'line:', owner)
  local index = redis.call('LPOS', key, id)
  if index == false then return false end
  local from = index
  if index > 0 and index == redis.call('LLEN', key) - 1 then
    -- The latest job: with a weight of its own, every place of the line moves.
    if job_weight(id) ~= job_weight(redis.call('LINDEX', key, index - 1)) then from = 0 end
  end
  owner_entries(lane, owner, false, from)
  redis.call('LREM', key, 1, id)
  if redis.call('LLEN', key) == 0 then
    redis.call('HDEL', LK(lane, 'lines'), owner)
    redis.call('HDEL', LK(lane, 'stamps'), owner)
  else
    owner_entries(lane, owner, true, from)
  end
  lane_waiting(lane, -1)
  return true
end

-- Waiting job ids of `lane` from place `first` to `last` (1-based, inclusive; negative counts from the end).
local function waiting_ids(lane, first, last)
  local ids = {}
  local from = first > 0 and first - 1 or first
  local to = last > 0 and last - 1 or last
  for i, member in ipairs(redis.call('ZRANGE', LK(lane, 'order'), from, to)) do ids[i] = member_id(member) end
  return ids
end

-- The owner's head leaves its line for a worker: its next job takes the owner's next turn, in this
-- round while it has turns left, else in the next round with a new stamp (behind the owners there).
local function take_head(lane, owner)
  local line = line_of(lane, owner)
  owner_entries(lane, owner, false)
  local id = redis.call('LPOP', LK(lane, 'line:', owner))
  if line.base > lane_round(lane) then
    redis.call('HSET', K('sched'), round_field(lane), line.base)
    redis.call('DEL', LK(lane, 'served'), LK(lane, 'turns'))
  end
  local turns = line.used + 1
  redis.call('HSET', LK(lane, 'served'), owner, line.base)
  redis.call('HSET', LK(lane, 'turns'), owner, turns)
  if redis.call('LLEN', LK(lane, 'line:', owner)) > 0 then
    if turns >= line.weight then
      redis.call('HSET', LK(lane, 'lines'), owner, line.base + 1)
      redis.call('HSET', LK(lane, 'stamps'), owner, next_stamp())
    end
    owner_entries(lane, owner, true)
  else
    redis.call('HDEL', LK(lane, 'lines'), owner)
    redis.call('HDEL', LK(lane, 'stamps'), owner)
  end
  lane_waiting(lane, -1)
  return id
end

-- A waiting job's 1-based place in its lane (nil for a job not waiting): O(its owner's jobs + log n).
local function place_of(id)
  local owner, lane = unpack(redis.call('HMGET', job_key(id), 'owner', 'model'))
  lane = lane or ''
  local line = owner and line_of(lane, owner)
  if not line then return nil end
  local index = redis.call('LPOS', LK(lane, 'line:', owner), id)
  if index == false then return nil end
  local _, member = order_entry(line, index, id)
  local rank = redis.call('ZRANK', LK(lane, 'order'), member)
  if rank == false then return nil end
  return rank + 1
end

-- The head of a lane, for ETAs: its first NEAR_PLACES ids, and for each the seconds of work up to and
-- including it (the remainder of the jobs running on the workers that serve it plus the estimates; nil
-- from the first job with none), and how many live workers serve it (nil: none).
local function near_line(lane, lease)
  local ids = waiting_ids(lane, 1, NEAR_PLACES)
  local running = running_remaining(nil, lane ~= '' and lane or nil)
  local sums, total = {}, running
  for i, id in ipairs(ids) do
    if total ~= nil then
      local shape, cost = unpack(redis.call('HMGET', job_key(id), 'shape', 'cost'))
      local est = estimate(lane, shape, tonumber(cost))
      if est == nil then total = nil else total = total + est end
    end
    sums[i] = total
  end
  return {ids = ids, sums = sums, running = running, workers = live_workers(lane, lease)}
end

-- Seconds until the job at `place` is done: exact within the near line; beyond it, the near line's mean
-- estimate per job stands for the jobs past it (an ETA hours away is a guess either way, and summing
-- thousands of estimates per look is what kept Redis busy). None while no live worker serves the lane.
local function eta_at(line, place)
  local n = #line.ids
  if n == 0 or line.workers == nil then return nil end
  local sum = line.sums[math.min(place, n)]
  if sum == nil then return nil end
  if place > n then sum = line.running + (sum - line.running) * place / n end
  return sum / line.workers
end

local function announce(id, place, eta_s, recovered)
  redis.call('HSET', job_key(id), 'pos', place)
  emit(id, {'kind', 'queued', 'position', place, 'eta', eta_s and tostring(eta_s) or '',
    'recovered', recovered and '1' or '0'})
end

-- After `lane` changed: announces each job of its near line whose place changed, and every job in
-- `told` (id -> 'new' or 'recovered') wherever it is. Places past the near line are announced by
-- FAR_PLACES (scripts.py), coalesced. Returns the near line, for `view`.
local function reposition(lane, lease, told)
  local line = near_line(lane, lease)
  for place, id in ipairs(line.ids) do
    if told[id] or hget(job_key(id), 'pos') ~= tostring(place) then
      announce(id, place, eta_at(line, place), told[id] == 'recovered')
    end
  end
  for id, how in pairs(told) do
    local place = place_of(id)
    if place and place > #line.ids then announce(id, place, eta_at(line, place), how == 'recovered') end
  end
  return line
end

-- `reposition` for jobs that may be in several lanes (`told`: id -> how): each lane once.
local function reposition_lanes(lease, told)
  local by_lane = {}
  for id, how in pairs(told) do
    local lane = lane_of(id)
    by_lane[lane] = by_lane[lane] or {}
    by_lane[lane][id] = how
  end
  for lane, jobs in pairs(by_lane) do reposition(lane, lease, jobs) end
end

-- A job's row with its place and ETA; `lines` caches the near line of each lane (lane -> line).
local function view(id, lines)
  local j = job_table(id)
  if j == nil then return nil end
  if not TERMINAL[j.status] then
    if redis.call('ZSCORE', K('running'), id) then
      j.position = 0
      j.eta = running_remaining(j.token, nil)
    else
      local place = place_of(id)
      if place then
        local lane = j.model or ''
        lines[lane] = lines[lane] or near_line(lane, A.lease)
        j.position = place
        j.eta = eta_at(lines[lane], place)
      end
    end
  end
  return j
end

-- quotas -----------------------------------------------------------------------------------------
-- The twin of generation/queue/quota.py (the rule is stated there): `quota:{key}` zset, the ids of the
-- jobs counted against a quota key, scored by submission time; trimmed to the last day and expiring a
-- day after the last job counted, when no window counts any of them any more. It is input like the
-- rest: a key of another type counts as empty (and is replaced when a job is counted), and a member
-- scored later than an hour past now (planted, or counted on a clock far ahead) counts for nothing.
local DAY_S = 24 * 3600
local QUOTA_AHEAD_S = 3600

local function exact(x) return string.format('%.17g', x) end
local function quota_zset(quota_key) return K('quota:', quota_key) end
local function quota_sound(qkey)
  local kind = redis.call('TYPE', qkey).ok
  return kind == 'zset' or kind == 'none'
end

-- The earliest submission that counts now (rolling: exclusive; from a reset hour: inclusive) and the
-- bound to pass to ZCOUNT / ZRANGEBYSCORE for it.
local function quota_window(reset_hour)
  if reset_hour == nil then return now - DAY_S, '(' .. exact(now - DAY_S) end
  local offset = reset_hour * 3600
  local start = math.floor((now - offset) / DAY_S) * DAY_S + offset
  return start, exact(start)
end

-- Where a quota stands (`q`: {key, limit, reset_hour}; limit nil: none): used, resets_at (nil when
-- nothing counts and some are left), and false when its zset is not one (damaged).
local function quota_state(q)
  local qkey = quota_zset(q.key)
  if not quota_sound(qkey) then return 0, nil, false end
  local start, low = quota_window(q.reset_hour)
  local high = exact(now + QUOTA_AHEAD_S)
  local used = redis.call('ZCOUNT', qkey, low, high)
  local resets_at = nil
  if q.reset_hour ~= nil then
    if used > 0 or (q.limit ~= nil and used >= q.limit) then resets_at = start + DAY_S end
  elseif used > 0 then
    -- The job whose 24 h ending makes one video possible again (the oldest while some are left).
    local freeing = 0
    if q.limit ~= nil and used > q.limit then freeing = math.min(used - q.limit, used - 1) end
    local row = redis.call('ZRANGEBYSCORE', qkey, low, high, 'WITHSCORES', 'LIMIT', freeing, 1)
    resets_at = tonumber(row[2]) + DAY_S
  elseif q.limit ~= nil and q.limit == 0 then
    resets_at = now + DAY_S
  end
  return used, resets_at, true
end

-- Count a job submitted now against `quota_key` (after its script's first write: see SUBMIT).
local function quota_count(quota_key, id)
  local qkey = quota_zset(quota_key)
  if not quota_sound(qkey) then redis.call('DEL', qkey) end
  redis.call('ZREMRANGEBYSCORE', qkey, '-inf', exact(now - DAY_S))
  redis.call('ZREMRANGEBYSCORE', qkey, '(' .. exact(now + QUOTA_AHEAD_S), '+inf')
  redis.call('ZADD', qkey, NOW, id)
  redis.call('EXPIRE', qkey, DAY_S + QUOTA_AHEAD_S)
end

-- A job that failed or was cancelled gives its count back.
local function quota_release(id)
  local quota_key = hget(job_key(id), 'quota')
  if quota_key == nil or quota_key == '' then return end
  local qkey = quota_zset(quota_key)
  if redis.call('TYPE', qkey).ok == 'zset' then redis.call('ZREM', qkey, id) end
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
  local request = cjson.decode(hget(key, 'request'))
  local image = request.image  -- the picture, or the video an extension continued (JSON null is no string)
  if type(image) ~= 'string' then image = request.extend end
  if type(image) == 'string' then redis.call('HSET', K('pictures:', origin), id, image) end
  redis.call('EXPIRE', key, tonumber(hget(key, 'ack_ttl')))
end

-- End a live job (waiting or held by a worker) as `status` with extra `fields`; emits its terminal event.
local function finish(id, status, fields, event)
  local key = job_key(id)
  local owner = hget(key, 'owner')
  if hget(key, 'status') == 'queued' and redis.call('ZSCORE', K('running'), id) == false then
    line_remove(lane_of(id), owner, id)
  end
  redis.call('ZREM', K('running'), id)
  if redis.call('HINCRBY', K('held'), owner, -1) <= 0 then redis.call('HDEL', K('held'), owner) end
  redis.call('HSET', key, 'status', status, 'finished_at', NOW, unpack(fields))
  redis.call('HDEL', key, 'pos', 'cancel_by')
  redis.call('HINCRBY', K('stats'), status, 1)
  if status ~= 'succeeded' then quota_release(id) end
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
    'started_at', 'pos', 'runs_on')
  redis.call('HSET', key, 'status', 'queued', unpack(fields))
  line_push(lane_of(id), hget(key, 'owner'), id, true)
end

local function held_by(id, token)
  return hget(job_key(id), 'token') == token and redis.call('ZSCORE', K('running'), id) ~= false
end
