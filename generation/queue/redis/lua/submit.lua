-- SUBMIT: see generation/queue/redis/scripts.py for the keys and the calling convention.
-- The same submission again (its answer was lost on the way): queued once.
if redis.call('EXISTS', job_key(A.id)) == 1 then return cjson.encode({job = job_table(A.id)}) end
if redis.call('EXISTS', K('paused')) == 1 then return cjson.encode({error = 'paused'}) end
local owner = A.owner
-- A quota used up refuses first: waiting for a job to finish would not help.
local quota_damaged = false
if A.quota then
  local used, resets_at, sound = quota_state(A.quota)
  quota_damaged = not sound
  if A.quota.limit ~= nil and used >= A.quota.limit then
    return cjson.encode({error = 'quota', used = used, limit = A.quota.limit, resets_at = exact(resets_at),
      damaged = quota_damaged})
  end
end
local held = tonumber(hget(K('held'), owner) or '0')
if held >= A.max_per_user then return cjson.encode({error = 'user', held = held}) end
local waiting = sched('waiting')
if waiting >= A.max_jobs then return cjson.encode({error = 'full', waiting = waiting}) end
local key = job_key(A.id)
local fields = {'status', 'queued', 'submitted_at', NOW, 'attempts', '0', 'crashes', '0',
  'seq', redis.call('HINCRBY', K('sched'), 'submitted', 1)}
for k, v in pairs(A.fields) do fields[#fields + 1] = k; fields[#fields + 1] = v end
redis.call('HSET', key, unpack(fields))
-- After the first write (the `seq` above): at the memory limit the script stops before writing anything.
if A.quota then quota_count(A.quota.key, A.id) end
redis.call('PERSIST', K('image:', A.id))  -- written with a short TTL by the bot; now the job's, until it ends
redis.call('HINCRBY', K('held'), owner, 1)
local lane = A.fields.model or ''
line_push(lane, owner, A.id, false)
redis.call('SADD', K('open:', A.fields.origin), A.id)
local line = reposition(lane, A.lease, {[A.id] = 'new'})
redis.call('PUBLISH', K('wake'), A.id)
return cjson.encode({job = view(A.id, {[lane] = line}), damaged = quota_damaged})
