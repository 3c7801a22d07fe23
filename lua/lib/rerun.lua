-- A re-sent job id (Celery's semantics), inlined by lib/enqueue.lua (needs lib/queue included first).
-- Celery delivers a message whose task id was used before like any other: the task runs again and the
-- result backend keeps the last state. The Celery front marks a job it sends with a task id the caller
-- chose (a frozen signature) with the field `_rerun` = '1'. Creating such a job where a FINISHED job of
-- that id exists deletes the old one first (its hash, logs and state zset entry, as delete_finished.lua
-- does), so the id runs again. Everything else stays idempotent: a job without the mark, an old job
-- still waiting, delayed or active, and a workflow enqueueing its own node again (same `_wf`: the
-- re-run of an advance after a crash) all leave the existing job alone.
-- luacheck: push ignore 211 (helpers a including script may not use)

-- The value of `name` among the record's extra field/value pairs ARGV[from..to] (nil when absent).
local function record_field(from, to, name)
  for j = from, to - 1, 2 do
    if ARGV[j] == name then
      return ARGV[j + 1]
    end
  end
  return nil
end

-- True when the existing job at job_key was deleted to make room for the re-sent record whose
-- extra fields are ARGV[from..to].
local function replace_finished(job_key, id, from, to)
  if record_field(from, to, '_rerun') ~= '1' then
    return false
  end
  local old = redis.call('HMGET', job_key, 'state', '_wf')
  local zset = ({completed = COMPLETED, failed = FAILED, expired = EXPIRED, cancelled = CANCELLED})[old[1]]
  if not zset or (old[2] and old[2] == record_field(from, to, '_wf')) then
    return false
  end
  redis.call('DEL', job_key, job_key .. ':logs')
  redis.call('ZREM', zset, id)
  return true
end
-- luacheck: pop
