-- INDEX_ORDER: see generation/queue/redis/scripts.py for the keys and the calling convention.
-- Lines written before `order` existed (an upgrade with jobs waiting, all in lane ''): the jobs of about `count` owners
-- from HSCAN cursor `cursor` of `lines` into `order`. Adding an owner's entries again changes nothing.
local reply = redis.call('HSCAN', K('lines'), A.cursor, 'COUNT', A.count)
local flat = reply[2]
for i = 1, #flat, 2 do owner_entries('', flat[i], true) end
if reply[1] == '0' then redis.call('HSET', K('sched'), 'ordered', 1) end
return cjson.encode({cursor = reply[1]})
