-- CLEAR: see generation/queue/redis/scripts.py for the keys and the calling convention.
-- Up to `count` jobs from the end of the line, last first: a job cancelled at the end moves nobody.
-- Each entry leaves `order` even if its record disagrees (not waiting), so a clear always ends.
local cleared = {}
local members = redis.call('ZRANGE', K('order'), -A.count, -1)
for i = #members, 1, -1 do
  local id = member_id(members[i])
  cancel_now(id, A.by)
  redis.call('ZREM', K('order'), members[i])
  cleared[#cleared + 1] = job_table(id)
end
return cjson.encode({jobs = cleared, more = redis.call('ZCARD', K('order')) > 0})
