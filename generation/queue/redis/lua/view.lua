-- VIEW: see generation/queue/redis/scripts.py for the keys and the calling convention.
local lines = {}
local out = {}
for _, id in ipairs(A.ids) do
  local v = view(id, lines)
  if v then out[#out + 1] = v end
end
return cjson.encode({jobs = out})
