-- sweep() -> {display, owner, display, owner, ...}: every name of a server whose lease is
-- gone, and every name evicted since the last sweep; each is returned by one sweep only.
local found = {}
for _, server in ipairs(redis.call('SMEMBERS', SERVERS)) do
  local dead = redis.call('EXISTS', lease_key(server)) == 0
  if dead then
    retire(server)
  end
  for _, entry in ipairs(redis.call('LRANGE', gone_key(server), 0, -1)) do
    local owner, _, display = decode(entry)
    table.insert(found, display)
    table.insert(found, owner)
  end
  redis.call('DEL', gone_key(server))
  if dead then
    redis.call('SREM', SERVERS, server)
  end
end
return found
