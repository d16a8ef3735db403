-- register(server, lease ms) -> 1, or 0 when another process holds that server's lease.
-- Names left under the id by an earlier run are evicted, for a sweep to return.
local server, lease = ARGV[1], ARGV[2]
if not redis.call('SET', lease_key(server), 'alive', 'NX', 'PX', lease) then
  return 0
end
retire(server)
redis.call('SADD', SERVERS, server)
return 1
