-- LEARN: see generation/queue/redis/scripts.py for the keys and the calling convention.
-- Everyone's runs (lane '', the jobs any model runs) and, from a worker serving a model, that model's.
local sample = A.cost .. ' ' .. A.seconds .. ' ' .. A.after
local lanes = {''}
if A.model and A.model ~= '' then lanes[2] = A.model end
for _, lane in ipairs(lanes) do
  for _, key in ipairs({LK(lane, 'eta'), LK(lane, 'eta:', A.shape)}) do
    redis.call('LPUSH', key, sample)
    redis.call('LTRIM', key, 0, A.window - 1)
  end
  redis.call('EXPIRE', LK(lane, 'eta:', A.shape), ENDED_EVENTS_TTL)
  -- A model nobody runs any more leaves nothing behind for good (lane '' is everyone's, always in use).
  if lane ~= '' then redis.call('EXPIRE', LK(lane, 'eta'), ENDED_EVENTS_TTL) end
end
return cjson.encode({})
