-- ACK: see generation/queue/redis/scripts.py for the keys and the calling convention.
local key = job_key(A.id)
if redis.call('EXISTS', key) == 0 then return cjson.encode({found = false}) end
redis.call('SREM', K('open:', A.origin), A.id)
local ttl = math.ceil(math.max(ENDED_EVENTS_TTL, A.keep_s))
redis.call('HSET', key, 'ack_ttl', ttl, 'ack_origin', A.origin)
if TERMINAL[hget(key, 'status')] then settle_acknowledged(A.id) end
return cjson.encode({found = true})
