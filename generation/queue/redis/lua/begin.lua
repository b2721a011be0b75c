-- BEGIN: see generation/queue/redis/scripts.py for the keys and the calling convention.
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
  -- The token's other jobs (the rest of a failed batch, retried in halves) wait for an attempt of their
  -- own: for ETAs and cancellation they have not begun, as in `QueueCore`.
  local now_in = {}
  for _, id in ipairs(members) do now_in[id] = true end
  for _, other in ipairs(redis.call('ZRANGE', K('running'), 0, -1)) do
    if not now_in[other] and hget(job_key(other), 'token') == A.token then
      redis.call('HDEL', job_key(other), 'att', 'att_start', 'att_cost', 'att_members', 'step', 'total')
    end
  end
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
