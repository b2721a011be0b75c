-- HEARTBEAT: see generation/queue/redis/scripts.py for the keys and the calling convention.
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
-- `workers` counts every worker; `lane:{model}:workers` those serving the model, for its ETAs.
local lists = {K('workers')}
if A.model and A.model ~= '' then lists[2] = LK(A.model, 'workers') end
for _, list in ipairs(lists) do
  redis.call('ZADD', list, now, A.worker)
  redis.call('ZREMRANGEBYSCORE', list, '-inf', '(' .. (now - A.gone_s))
end
-- A model nobody serves any more leaves nothing behind for good.
if lists[2] then redis.call('EXPIRE', lists[2], A.gone_s) end
return cjson.encode({cancelled = cancelled, lost = lost})
