-- TAKE: see generation/queue/redis/scripts.py for the keys and the calling convention.
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
-- The worker's model's lane or lane '' (jobs any model runs): the head submitted first goes, so
-- neither lane starves the other, and each keeps its own fair order.
local model = A.model or ''
local lane, first, first_seq = nil, nil, nil
for _, candidate in ipairs(model ~= '' and {'', model} or {''}) do
  local ids = waiting_ids(candidate, 1, 1)
  if #ids > 0 then
    local seq = tonumber(hget(job_key(ids[1]), 'seq')) or 0
    if first_seq == nil or seq < first_seq then lane, first, first_seq = candidate, ids[1], seq end
  end
end
if first == nil then return cjson.encode({jobs = {}}) end
local head = job_table(first)
local limit = A.by_shape[head.shape] or A.default
if limit > A.default then limit = A.default end
if limit < 1 then limit = 1 end
-- The batch is the run of same-shape jobs at the lane's head (one model's, never mixed): taking them
-- one by one is taking the lane's head.
local batch = {{id = first, owner = head.owner}}
if limit > 1 and head.alone ~= '1' then
  for _, id in ipairs(waiting_ids(lane, 2, limit)) do
    local owner, shape, alone = unpack(redis.call('HMGET', job_key(id), 'owner', 'shape', 'alone'))
    if shape ~= head.shape or alone == '1' then break end
    batch[#batch + 1] = {id = id, owner = owner}
  end
end
local token = tostring(redis.call('HINCRBY', K('sched'), 'token', 1))
local jobs = {}
for _, e in ipairs(batch) do
  take_head(lane, e.owner)
  redis.call('HSET', job_key(e.id), 'token', token, 'worker', A.worker, 'runs_on', model)
  redis.call('HDEL', job_key(e.id), 'pos')
  redis.call('ZADD', K('running'), now + A.lease, e.id)
  jobs[#jobs + 1] = job_table(e.id)
end
reposition(lane, A.lease, {})
local ids = {}
for _, e in ipairs(batch) do ids[#ids + 1] = e.id end
if A.req then
  redis.call('SET', K('take:', A.req), cjson.encode({token = token, ids = ids}), 'PX', math.ceil(A.lease * 1000))
end
return cjson.encode({jobs = jobs, token = token})
