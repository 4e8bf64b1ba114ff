//! The Lua scripts: only the moves that must be atomic, each one call per batch or per job.
//!
//! Keys are built inside the scripts from the prefix passed as the first argument. Each call
//! also declares one of the queue's keys (KEYS[1], unused by the script itself): on a cluster
//! the call goes to the node holding the queue's slot, and every key the script builds shares
//! that slot through the prefix's hash tag (see the crate documentation).

use std::sync::LazyLock;

use redis::{Script, ScriptInvocation};

/// Adds jobs unless their key is live. ARGV: prefix, now, then per job: key, id, type, run-at,
/// lane, job. Answers 1 (added) or 0 (duplicate) per job.
static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p = ARGV[1]
local now = tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 6 do
  if redis.call('SET', p .. ':k:' .. ARGV[i], ARGV[i + 1], 'NX') then
    redis.call('SADD', p .. ':kinds', ARGV[i + 2])
    local at = tonumber(ARGV[i + 3])
    if at > now then
      redis.call('ZADD', p .. ':delayed', at, ARGV[i + 5])
    else
      redis.call('XADD', p .. ':q:' .. ARGV[i + 2] .. ':' .. ARGV[i + 4], '*', 'j', ARGV[i + 5])
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
",
    )
});

/// Moves due delayed jobs to their streams. ARGV: prefix, now, most to move.
static PROMOTE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p = ARGV[1]
local due = redis.call('ZRANGEBYSCORE', p .. ':delayed', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, job in ipairs(due) do
  local j = cjson.decode(job)
  local lane = '0'
  if tonumber(j.priority) > 0 then lane = '1' end
  redis.call('XADD', p .. ':q:' .. j.kind .. ':' .. lane, '*', 'j', job)
  redis.call('ZREM', p .. ':delayed', job)
end
return #due
",
    )
});

/// Ends a delivery that did not complete: acknowledges its entry and, only if this call was the
/// one to acknowledge it, moves the job to the dead-letter stream ('dead'), the delayed set (a
/// retry not yet due) or the back of its stream. ARGV: prefix, stream, group, entry, mode,
/// due, job, now.
static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p = ARGV[1]
if redis.call('XACK', ARGV[2], ARGV[3], ARGV[4]) == 0 then return 0 end
redis.call('XDEL', ARGV[2], ARGV[4])
if ARGV[5] == 'dead' then
  redis.call('XADD', p .. ':dead', '*', 'j', ARGV[7])
elseif tonumber(ARGV[6]) > tonumber(ARGV[8]) then
  redis.call('ZADD', p .. ':delayed', tonumber(ARGV[6]), ARGV[7])
else
  redis.call('XADD', ARGV[2], '*', 'j', ARGV[7])
end
return 1
",
    )
});

/// Moves one dead job back to its stream. ARGV: dead stream, entry, job, stream.
static REPLAY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('XDEL', ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', ARGV[4], '*', 'j', ARGV[3])
return 1
",
    )
});

/// Deletes every dead job and frees its key. ARGV: prefix.
static PURGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p = ARGV[1]
local n = 0
for _, e in ipairs(redis.call('XRANGE', p .. ':dead', '-', '+')) do
  local ok, j = pcall(cjson.decode, e[2][2])
  if ok then redis.call('DEL', p .. ':k:' .. j.key) end
  n = n + 1
end
redis.call('DEL', p .. ':dead')
return n
",
    )
});

pub(crate) fn enqueue() -> ScriptInvocation<'static> {
    ENQUEUE.prepare_invoke()
}

pub(crate) fn promote() -> ScriptInvocation<'static> {
    PROMOTE.prepare_invoke()
}

pub(crate) fn settle() -> ScriptInvocation<'static> {
    SETTLE.prepare_invoke()
}

pub(crate) fn replay() -> ScriptInvocation<'static> {
    REPLAY.prepare_invoke()
}

pub(crate) fn purge() -> ScriptInvocation<'static> {
    PURGE.prepare_invoke()
}
