-- What every names script shares; each script is this file followed by its own.
--
-- smolchat:nick                hash: fold -> "owner\nskeleton\ndisplay" (the holder)
-- smolchat:nick-look           hash: skeleton -> the fold that has it
-- smolchat:servers             set: the servers that registered and were not yet swept
-- smolchat:server:ID           string with a PX lease: server ID is alive
-- smolchat:server:ID:names     set: the folds its clients hold
-- smolchat:server:ID:gone      list: entries taken from it, not yet returned by a sweep
--
-- An owner is "server:client"; a server id never holds ':' or a line break, and neither
-- does a skeleton, so the first two line breaks of an entry end its owner and skeleton.

local PREFIX = 'smolchat:'
local NAMES = PREFIX .. 'nick'
local LOOKS = PREFIX .. 'nick-look'
local SERVERS = PREFIX .. 'servers'

-- The owner, skeleton and display of a names entry.
local function decode(entry)
  local first = string.find(entry, '\n', 1, true)
  local second = first and string.find(entry, '\n', first + 1, true)
  if not second then
    error({err = 'smolchat: malformed names entry'})
  end
  return string.sub(entry, 1, first - 1), string.sub(entry, first + 1, second - 1),
    string.sub(entry, second + 1)
end

local function server_of(owner)
  return string.match(owner, '^([^:]+):')
end

local function lease_key(server)
  return PREFIX .. 'server:' .. server
end

local function held_key(server)
  return PREFIX .. 'server:' .. server .. ':names'
end

local function gone_key(server)
  return PREFIX .. 'server:' .. server .. ':gone'
end

-- Whether the owner's server still holds its lease.
local function alive(owner)
  return redis.call('EXISTS', lease_key(server_of(owner))) == 1
end

-- Removes the name `fold`, held as `entry`, from both hashes and from its server's set.
local function drop(fold, entry)
  local owner, skeleton = decode(entry)
  redis.call('HDEL', NAMES, fold)
  if redis.call('HGET', LOOKS, skeleton) == fold then
    redis.call('HDEL', LOOKS, skeleton)
  end
  redis.call('SREM', held_key(server_of(owner)), fold)
end

-- Drops a name whose server is gone, and keeps it for a sweep to return.
local function evict(fold, entry)
  drop(fold, entry)
  redis.call('RPUSH', gone_key(server_of(decode(entry))), entry)
end

-- Evicts every name `server` still holds.
local function retire(server)
  for _, fold in ipairs(redis.call('SMEMBERS', held_key(server))) do
    local entry = redis.call('HGET', NAMES, fold)
    if entry and server_of(decode(entry)) == server then
      evict(fold, entry)
    end
  end
  redis.call('DEL', held_key(server))
end

-- Gives `fold` (whose skeleton is `skeleton`) to `owner`, shown as `display`.
local function put(fold, skeleton, display, owner)
  redis.call('HSET', NAMES, fold, owner .. '\n' .. skeleton .. '\n' .. display)
  redis.call('HSET', LOOKS, skeleton, fold)
  redis.call('SADD', held_key(server_of(owner)), fold)
end

-- Who stands in the way of `owner` taking `fold`: nil when nobody alive does (the names of
-- dead servers in the way are evicted), else {'taken', display} or {'looks', display}.
-- `mine` is a fold of the owner's that does not count (the old name of a rename).
local function obstacle(fold, skeleton, owner, mine)
  local entry = redis.call('HGET', NAMES, fold)
  if entry then
    local holder, _, display = decode(entry)
    if holder ~= owner then
      if alive(holder) then
        return {'taken', display}
      end
      evict(fold, entry)
    end
  end
  local other = redis.call('HGET', LOOKS, skeleton)
  if not other or other == fold then
    return nil
  end
  local other_entry = redis.call('HGET', NAMES, other)
  if not other_entry then
    redis.call('HDEL', LOOKS, skeleton)
    return nil
  end
  local holder, _, display = decode(other_entry)
  if holder == owner and other == mine then
    return nil
  end
  if alive(holder) then
    return {'looks', display}
  end
  evict(other, other_entry)
  return nil
end

