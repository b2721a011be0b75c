-- SET_CONTEXT: see generation/queue/redis/scripts.py for the keys and the calling convention.
if redis.call('EXISTS', job_key(A.id)) == 0 then return cjson.encode({found = false}) end
redis.call('HSET', job_key(A.id), 'context', A.context)
return cjson.encode({found = true})
