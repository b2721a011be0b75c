-- CLEAR: see generation/queue/redis/scripts.py for the keys and the calling convention.
-- Up to `count` jobs from the end of the lanes (as ACTIVE lists them), last first: a job cancelled at
-- the end of its lane moves nobody. Each entry leaves its `order` even if its record disagrees (not
-- waiting, or naming another lane), so a clear always ends.
local cleared = {}
local lanes = lanes_list()
local left = A.count
for i = #lanes, 1, -1 do
  if left == 0 then break end
  local order = LK(lanes[i], 'order')
  local members = redis.call('ZRANGE', order, -left, -1)
  for j = #members, 1, -1 do
    local id = member_id(members[j])
    cancel_now(id, A.by)
    redis.call('ZREM', order, members[j])
    cleared[#cleared + 1] = job_table(id)
  end
  left = left - #members
end
local more = false
for _, lane in ipairs(lanes_list()) do
  if redis.call('ZCARD', LK(lane, 'order')) > 0 then more = true end
end
return cjson.encode({jobs = cleared, more = more})
