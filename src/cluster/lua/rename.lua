-- rename(old fold, new fold, new skeleton, display, owner) -> as claim. The new name may
-- look like the owner's old one; the old one is freed if the owner still holds it.
local old, fold, skeleton, display, owner = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if not alive(owner) then
  return {'lease'}
end
local refused = obstacle(fold, skeleton, owner, old)
if refused then
  return refused
end
local old_entry = redis.call('HGET', NAMES, old)
if old ~= fold and old_entry and decode(old_entry) == owner then
  drop(old, old_entry)
end
put(fold, skeleton, display, owner)
return {'ok'}
