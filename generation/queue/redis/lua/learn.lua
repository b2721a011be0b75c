-- LEARN: see generation/queue/redis/scripts.py for the keys and the calling convention.
local sample = A.cost .. ' ' .. A.seconds .. ' ' .. A.after
for _, key in ipairs({K('eta'), K('eta:', A.shape)}) do
  redis.call('LPUSH', key, sample)
  redis.call('LTRIM', key, 0, A.window - 1)
end
redis.call('EXPIRE', K('eta:', A.shape), ENDED_EVENTS_TTL)
return cjson.encode({})
