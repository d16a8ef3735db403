-- find(fold) -> {display, owner}, or {} when nobody on a live server holds it.
local entry = redis.call('HGET', NAMES, ARGV[1])
if not entry then
  return {}
end
local owner, _, display = decode(entry)
if not alive(owner) then
  return {}
end
return {display, owner}
