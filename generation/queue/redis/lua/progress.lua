-- PROGRESS: see generation/queue/redis/scripts.py for the keys and the calling convention.
for _, id in ipairs(A.ids) do
  local key = job_key(id)
  if held_by(id, A.token) then
    redis.call('HSET', key, 'step', A.step, 'total', A.total)
    local elapsed = now - tonumber(hget(key, 'att_start') or NOW)
    emit(id, {'kind', 'progress', 'step', A.step, 'total', A.total, 'elapsed', tostring(elapsed)})
  end
end
return cjson.encode({})
