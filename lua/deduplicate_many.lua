-- deduplicate_many: create a batch of jobs of one task (dispatch_many), each under its own dedup key
-- or none, deciding each in order as deduplicate.lua does: a later job of the batch sees the keys the
-- earlier ones took, so two items with one key create one job.
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3..] entries back to back, each: the dedup key
-- (`<prefix>dedup:<key>`, '' for none), its blocking states (comma-separated, of waiting, delayed,
-- active), then one job record (lib/enqueue.lua) whose extra fields include dedupKey when keyed.
-- Returns one {status, id} pair per entry, flattened, in order: 'created' '', 'duplicate' <holder id>
-- (nothing written for it), or 'exists' '' (a job with this id exists already).
--@include lib/queue
--@include lib/enqueue
--@include lib/dedup_take

-- Decide and write the entry at ARGV[i]; returns its status, the holder id ('' if none), and the
-- index of the next entry.
local function admit(i)
  local key, record = ARGV[i], i + 2
  local previous = false
  if key ~= '' then
    local holder
    holder, previous = take_dedup(PREFIX, key, ARGV[record], ARGV[i + 1])
    if holder then
      return 'duplicate', holder, record + 8 + tonumber(ARGV[record + 7])
    end
  end
  local ok, next_i = enqueue_record(record)
  if ok == 0 then
    if key ~= '' then
      untake_dedup(key, previous)
    end
    return 'exists', '', next_i
  end
  return 'created', '', next_i
end

local reply, i = {}, 3
while i <= #ARGV do
  local status, holder
  status, holder, i = admit(i)
  reply[#reply + 1] = status
  reply[#reply + 1] = holder
end
wake()
return reply
