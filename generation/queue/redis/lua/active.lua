-- ACTIVE: see generation/queue/redis/scripts.py for the keys and the calling convention.
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
