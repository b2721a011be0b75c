-- CANCEL: see generation/queue/redis/scripts.py for the keys and the calling convention.
local id = A.id
local j = job_table(id)
if j == nil then return cjson.encode({}) end
if TERMINAL[j.status] then return cjson.encode({job = j}) end
if redis.call('ZSCORE', K('running'), id) == false then
  cancel_now(id, A.by)
  reposition(lane_of(id), A.lease, {})
  return cjson.encode({job = job_table(id)})
end
if j.cancel_by == nil then redis.call('HSET', job_key(id), 'cancel_by', A.by) end
-- The call stops only when nobody in it wants its result any more; otherwise this member ends now.
local others_wanted = false
if j.att and j.att ~= '' then
  for member in string.gmatch(j.att_members, '%S+') do
    if member ~= id and redis.call('ZSCORE', K('running'), member) and hget(job_key(member), 'cancel_by') == nil
      and hget(job_key(member), 'att') == j.att then
      others_wanted = true
    end
  end
end
if j.att and j.att ~= '' and not others_wanted then
  redis.call('PUBLISH', K('cancel'), 'stop:' .. id)
  local v = view(id, {})
  v.cancelled_by = hget(job_key(id), 'cancel_by')
  return cjson.encode({job = v})
end
cancel_now(id, hget(job_key(id), 'cancel_by'))
redis.call('PUBLISH', K('cancel'), 'drop:' .. id)
return cjson.encode({job = job_table(id)})
