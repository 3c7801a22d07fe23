-- enqueue_many: create a batch of jobs of one task in one call (dispatch_many's fast path).
-- KEYS[1..11]: the task's queue keys (lib/queue.lua)
-- ARGV[1] prefix, ARGV[2] now ms, ARGV[3..] job records back to back (lib/enqueue.lua).
-- Returns one 1/0 per record, in order (0: a job with that id already existed).
--@include lib/queue
--@include lib/enqueue

local created, i = {}, 3
while i <= #ARGV do
  local ok
  ok, i = enqueue_record(i)
  created[#created + 1] = ok
end
wake()
return created
