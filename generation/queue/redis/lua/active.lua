-- ACTIVE: see generation/queue/redis/scripts.py for the keys and the calling convention.
-- Held jobs by submission (when `start` is 1), then up to `count` waiting ones from place `start` of the
-- lanes one after the other (lane '', then the named ones by name), each in its own order.
local ids = {}
if A.start == 1 then
  local running = redis.call('ZRANGE', K('running'), 0, -1)
  table.sort(running, function(a, b)
    return tonumber(hget(job_key(a), 'seq')) < tonumber(hget(job_key(b), 'seq'))
  end)
  for _, id in ipairs(running) do ids[#ids + 1] = id end
end
local skip, listed = A.start - 1, 0
for _, lane in ipairs(lanes_list()) do
  if listed == A.count then break end
  local n = redis.call('ZCARD', LK(lane, 'order'))
  if skip >= n then
    skip = skip - n
  else
    for _, id in ipairs(waiting_ids(lane, skip + 1, skip + A.count - listed)) do
      ids[#ids + 1] = id
      listed = listed + 1
    end
    skip = 0
  end
end
return cjson.encode({ids = ids, more = listed == A.count})
