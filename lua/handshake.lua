-- handshake: read taskora:meta, writing it first if this is a fresh store. The caller compares
-- the stored [minCompat, wireVersion] window with its own and refuses to run if they do not meet.
-- KEYS[1] taskora:meta
-- ARGV[1] our wireVersion, ARGV[2] our minCompat, ARGV[3] writtenBy, ARGV[4] now ms
-- Returns {wireVersion, minCompat, writtenBy} as stored.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'wireVersion', ARGV[1], 'minCompat', ARGV[2], 'writtenBy', ARGV[3],
    'writtenAt', ARGV[4])
end
return redis.call('HMGET', KEYS[1], 'wireVersion', 'minCompat', 'writtenBy')
