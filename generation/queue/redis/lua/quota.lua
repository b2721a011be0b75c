-- QUOTA: see generation/queue/redis/scripts.py for the keys and the calling convention.
-- Where one quota stands (read only: a damaged zset is replaced by the next SUBMIT that counts).
local used, resets_at, sound = quota_state(A.quota)
return cjson.encode({used = used, resets_at = resets_at and exact(resets_at) or '', damaged = not sound})
