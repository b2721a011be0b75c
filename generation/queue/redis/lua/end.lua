-- END: see generation/queue/redis/scripts.py for the keys and the calling convention.
local id = A.id
local key = job_key(id)
-- The same request again (its answer was lost on the way): it ended then; say so again.
if A.req and hget(key, 'end_req') == A.req then return cjson.encode({ended = true, job = job_table(id)}) end
if not held_by(id, A.token) then return cjson.encode({ended = false}) end
local kind = A.ending.kind
if kind == 'succeeded' then
  local e = A.ending
  -- The key is derived here, as `codec.video_key` does, never taken from the worker: no worker can
  -- make the bot deliver another key's bytes.
  finish(id, 'succeeded', {'seed', e.seed, 'video_key', K('video:', id, ':', A.token), 'video', e.video,
    'timings', e.timings, 'batch_size', e.batch_size}, {'kind', 'finished'})
  -- Never recreated without its expiry (see HEARTBEAT) by a worker whose record already went.
  if redis.call('EXISTS', K('worker:', A.worker)) == 1 then redis.call('HINCRBY', K('worker:', A.worker), 'done', 1) end
elseif kind == 'failed' then
  finish(id, 'failed', {'error', A.ending.reason}, {'kind', 'failed', 'reason', A.ending.reason})
else
  local by = A.ending.by or hget(key, 'cancel_by') or 'unknown'
  cancel_now(id, by)
end
if A.req then redis.call('HSET', key, 'end_req', A.req) end
return cjson.encode({ended = true, job = job_table(id)})
