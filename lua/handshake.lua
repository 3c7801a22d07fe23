-- handshake: read taskora:meta, writing it first if this is a fresh store. The caller compares
-- the stored [minCompat, wireVersion] window with its own and refuses to run if they do not meet.
-- KEYS[1] taskora:meta
-- ARGV[1] our wireVersion, ARGV[2] our minCompat, ARGV[3] writtenBy, ARGV[4] now ms
-- Returns {wireVersion, minCompat, writtenBy} as stored. A fresh store that Redis refuses to write to
-- (at maxmemory with noeviction) has no window to disagree with: ours comes back, nothing is written,
-- and the next handshake (a reconnect, another worker) writes it once memory frees.
if redis.call('EXISTS', KEYS[1]) == 0 then
  local written = redis.pcall('HSET', KEYS[1], 'wireVersion', ARGV[1], 'minCompat', ARGV[2],
    'writtenBy', ARGV[3], 'writtenAt', ARGV[4])
  if type(written) == 'table' and written.err then
    if string.find(written.err, 'maxmemory', 1, true) then
      return {ARGV[1], ARGV[2], ARGV[3]}
    end
    return redis.error_reply(written.err)
  end
end
return redis.call('HMGET', KEYS[1], 'wireVersion', 'minCompat', 'writtenBy')
