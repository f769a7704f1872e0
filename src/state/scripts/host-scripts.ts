import { LUA_JOB_LIVE, LUA_NOW } from './lua-common.ts';
import { LUA_WRITE_RECORD } from './record-scripts.ts';

/**
 * Takes a host's lease: set when free, or when the holder is this same machine and state
 * dir (the caller holds the state dir's flock, so that holder is dead). Returns the
 * current holder's value when someone else holds it, else nil.
 *
 * KEYS: lease.  ARGV: value json, holder identity, ttl ms.
 */
export const LEASE_ACQUIRE_LUA = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).holder ~= ARGV[2] then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[3]))
return false
`;

/** Gives the lease back if this worker still holds it.  KEYS: lease.  ARGV: token. */
export const LEASE_RELEASE_LUA = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).token == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`;

/**
 * One heartbeat: the beat itself (expiring), the host in the registry and in the
 * last-seen index, the lease renewed (or taken again if Redis lost it), and the lost mark
 * cleared. Returns {was lost (0|1), lease: 'held' or the other holder's value}.
 *
 * KEYS: heartbeat, hosts, hosts-seen, lost, lease.
 * ARGV: heartbeat json, heartbeat ttl ms, host id, lease token, lease value, lease ttl ms.
 */
export const BEAT_LUA = `
${LUA_NOW}
local lease = redis.call('GET', KEYS[5])
if lease and cjson.decode(lease).token ~= ARGV[4] then return {0, lease} end
redis.call('SET', KEYS[5], ARGV[5], 'PX', tonumber(ARGV[6]))
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], nowMs(), ARGV[3])
return {redis.call('DEL', KEYS[4]), 'held'}
`;

/**
 * Marks a host lost once: only when its heartbeat is gone and it was last seen before the
 * grace window; its sandboxes' records say `lost` in the same step (indexes and counters
 * with them), so a host that beats again (clearing the mark, then republishing) can never
 * be overwritten by a late marker. Reads only that host's own index. Returns the ids of
 * the sandboxes marked, or false when the host is not (newly) lost.
 *
 * KEYS: heartbeat, hosts-seen, lost, host index.
 * ARGV: host id, grace ms, updatedAt, key prefix ("<prefix>:").
 */
export const MARK_LOST_LUA = `
${LUA_NOW}
${LUA_WRITE_RECORD}
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local seen = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if nowMs() - seen < tonumber(ARGV[2]) then return false end
if not redis.call('SET', KEYS[3], '1', 'NX') then return false end
local marked = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  local id = string.match(member, '|([^|]+)$')
  local record = decodeRecord(redis.call('GET', ARGV[4] .. 'sandbox:' .. id))
  if record and record.state ~= 'lost' then
    record.state = 'lost'
    record.updatedAt = ARGV[3]
    writeRecord(ARGV[4], id, cjson.encode(record), record, 0)
    marked[#marked + 1] = id
  end
end
return marked
`;

/**
 * Brings a host's reservations in line with its ledger: every sandbox the ledger holds is
 * reserved; a reservation the ledger does not hold stays only while its job can still run
 * (live in BullMQ, or younger than the grace: a producer between reserving and adding).
 * The sums are recomputed from what remains. Returns {released ids, added ids}.
 *
 * KEYS: reservations, reserved.
 * ARGV: prefix of this host's job keys, grace ms, then (sandbox id, vcpus, memoryMib) triples.
 */
export const RESYNC_RESERVATIONS_LUA = `
${LUA_NOW}
${LUA_JOB_LIVE}
local now = nowMs()
local held = {}
for i = 3, #ARGV, 3 do held[ARGV[i]] = ARGV[i + 1] .. '|' .. ARGV[i + 2] end
local released, added = {}, {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local id, value = all[i], all[i + 1]
  if not held[id] then
    local jobId, at = string.match(value, '^%d+|%d+|(.*)|(%d+)$')
    local young = at and now - tonumber(at) < tonumber(ARGV[2])
    if not young and not (jobId and jobLive(ARGV[1] .. jobId)) then
      redis.call('HDEL', KEYS[1], id)
      released[#released + 1] = id
    end
  end
end
for id, amounts in pairs(held) do
  if redis.call('HEXISTS', KEYS[1], id) == 0 then
    redis.call('HSET', KEYS[1], id, amounts .. '|ledger|' .. now)
    added[#added + 1] = id
  end
end
local vcpus, mem, slots = 0, 0, 0
local rest = redis.call('HVALS', KEYS[1])
for _, value in ipairs(rest) do
  local v, m = string.match(value, '^(%d+)|(%d+)|')
  vcpus, mem, slots = vcpus + tonumber(v), mem + tonumber(m), slots + 1
end
redis.call('HSET', KEYS[2], 'vcpus', vcpus, 'memoryMib', mem, 'slots', slots)
return {released, added}
`;
