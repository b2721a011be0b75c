-- PUT_BACK: see generation/queue/redis/scripts.py for the keys and the calling convention.
local back = {}
local any = false
for _, id in ipairs(A.ids) do
  if held_by(id, A.token) then
    local by = hget(job_key(id), 'cancel_by')
    if by then
      cancel_now(id, by)
    else
      requeue(id, {})
      back[id] = 'recovered'
      any = true
    end
  end
end
if any then
  reposition_lanes(A.lease, back)
  redis.call('PUBLISH', K('wake'), 'back')
end
return cjson.encode({})
