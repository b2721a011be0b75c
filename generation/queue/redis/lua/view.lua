-- VIEW: see generation/queue/redis/scripts.py for the keys and the calling convention.
local line = #A.ids > 0 and near_line(A.lease)
local out = {}
for _, id in ipairs(A.ids) do
  local v = view(id, line)
  if v then out[#out + 1] = v end
end
return cjson.encode({jobs = out})
