-- release(fold, owner) -> 1 if the owner held the name and now does not, else 0.
local fold, owner = ARGV[1], ARGV[2]
local entry = redis.call('HGET', NAMES, fold)
if not entry or decode(entry) ~= owner then
  return 0
end
drop(fold, entry)
return 1
