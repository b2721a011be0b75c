-- RECLAIM: see generation/queue/redis/scripts.py for the keys and the calling convention.
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
  reposition_lanes(A.lease, back)
  redis.call('PUBLISH', K('wake'), 'reclaimed')
end
return cjson.encode({expired = expired, failed = failed})
