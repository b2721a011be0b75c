-- FAR_PLACES: see generation/queue/redis/scripts.py for the keys and the calling convention.
-- One chunk (`count` jobs from place `start` of lane `lane`; a pass begins past the near line of lane '',
-- and goes on past the near line of each named lane in turn) of the pass that announces the places
-- past the near lines. Coalesced twice: a pass begins at most once every `every` seconds, whichever bot
-- process asks; and a far job is told its place again only once that moved by a tenth (counting #4,321
-- down one by one would be a stream entry per waiting job per take).
local start, lane = A.start, A.lane or ''
if A.begin then
  local last = num(hget(K('sched'), 'far_at'))
  if last and now < last + A.every then return cjson.encode({told = 0}) end
  redis.call('HSET', K('sched'), 'far_at', NOW)
  start, lane = NEAR_PLACES + 1, ''
end
local line = near_line(lane, A.lease)
local ids = waiting_ids(lane, start, start + A.count - 1)
local told = 0
for i, id in ipairs(ids) do
  local place = start + i - 1
  local was = num(hget(job_key(id), 'pos'))
  if was == nil or (was ~= place and math.abs(was - place) * 10 >= was) then
    announce(id, place, eta_at(line, place), false)
    told = told + 1
  end
end
local answer = {told = told}
if #ids == A.count then
  answer.next, answer.lane = start + A.count, lane
else
  for _, other in ipairs(lanes_list()) do
    if other > lane then
      answer.next, answer.lane = NEAR_PLACES + 1, other
      break
    end
  end
end
return cjson.encode(answer)
