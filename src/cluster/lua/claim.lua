-- claim(fold, skeleton, display, owner) -> {'ok'} | {'taken', display} | {'looks', display}
-- | {'lease'} when the owner's server has no lease. Claiming a name one already holds is
-- {'ok'} (and updates how it is shown), so a claim whose answer was lost can be retried.
local fold, skeleton, display, owner = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if not alive(owner) then
  return {'lease'}
end
local refused = obstacle(fold, skeleton, owner, nil)
if refused then
  return refused
end
put(fold, skeleton, display, owner)
return {'ok'}
