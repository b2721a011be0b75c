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
redis.call('ZADD', K('workers'), now, A.worker)
redis.call('ZREMRANGEBYSCORE', K('workers'), '-inf', '(' .. (now - A.gone_s))
return cjson.encode({cancelled = cancelled, lost = lost})
