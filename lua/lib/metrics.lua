-- Per-minute throughput counters, inlined where it says `--@include lib/metrics` (after lib/queue).
-- The same keys as TypeScript taskora writes, so either board charts either language's work:
--   <job prefix>metrics:completed:<minute>, <job prefix>metrics:failed:<minute>  (strings, INCR)
-- where <minute> is the epoch ms of the minute's start; each lives a day from its first increment.
-- They share the task's {hash tag}, so counting inside the ack/fail script is cluster-safe.
-- luacheck: push ignore 211 (helpers a including script may not use)

local METRICS_TTL_S = 86400

-- Count `n` jobs (one when not given) that ended as `kind` ('completed' or 'failed') in the current
-- minute's bucket: a batch counts its jobs in one call.
local function count_throughput(kind, n)
  n = n or 1
  local key = PREFIX .. 'metrics:' .. kind .. ':' .. string.format('%.0f', math.floor(NOW / 60000) * 60000)
  if redis.call('INCRBY', key, n) == n then
    redis.call('EXPIRE', key, METRICS_TTL_S)
  end
end
-- luacheck: pop
