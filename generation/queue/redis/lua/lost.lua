-- LOST: see generation/queue/redis/scripts.py for the keys and the calling convention.
local key = job_key(A.id)
if redis.call('EXISTS', key) == 1 then return cjson.encode({recorded = false}) end
-- Written back as submitted, then failed the way every job ends: the bot tells its user as usual, Re-roll
-- finds its request, its acknowledgement settles it. 'lost' is never seen: `finish` overwrites it here.
local fields = {'status', 'lost', 'submitted_at', A.submitted_at, 'attempts', '0', 'crashes', '0',
  'seq', redis.call('HINCRBY', K('sched'), 'submitted', 1)}
for k, v in pairs(A.fields) do fields[#fields + 1] = k; fields[#fields + 1] = v end
redis.call('HSET', key, unpack(fields))
redis.call('HINCRBY', K('held'), A.fields.owner, 1)  -- counted as SUBMIT counts a job, for `finish` to count off
redis.call('SADD', K('open:', A.fields.origin), A.id)
finish(A.id, 'failed', {'error', A.reason}, {'kind', 'failed', 'reason', A.reason})
return cjson.encode({recorded = true})
