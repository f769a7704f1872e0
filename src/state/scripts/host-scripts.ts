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
 * One heartbeat on the host's slot: the beat itself (expiring), the lease renewed (or
 * taken again if Redis lost it), and the lost mark cleared. Returns {was lost (0|1),
 * 'held' or the other holder's value, reserved vcpus, memoryMib, slots}: the reservations
 * go into the fleet's placement figures.
 *
 * KEYS: heartbeat, lost, lease, reserved.
 * ARGV: heartbeat json, heartbeat ttl ms, lease token, lease value, lease ttl ms.
 */
export const BEAT_LUA = `
local lease = redis.call('GET', KEYS[3])
if lease and cjson.decode(lease).token ~= ARGV[3] then return {0, lease, 0, 0, 0} end
redis.call('SET', KEYS[3], ARGV[4], 'PX', tonumber(ARGV[5]))
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
local used = redis.call('HMGET', KEYS[4], 'vcpus', 'memoryMib', 'slots')
return {redis.call('DEL', KEYS[2]), 'held', tonumber(used[1] or '0'), tonumber(used[2] or '0'), tonumber(used[3] or '0')}
`;

/**
 * A host's heartbeat on the fleet's slot: the registry, the last-seen index, the host's
 * free capacity in the placement figures and in each of its templates' index, and its
 * ready pool VMs in the index of their template and shape (placement prefers those hosts).
 * A template the host no longer serves keeps it in its index, but placement checks the
 * figures' own template list.
 *
 * KEYS: hosts, hosts-seen, host-free.
 * ARGV: host id, free figures json ({v, m, s, exp, t}), fleet prefix ("<prefix>:"), then
 *       (shape key, ready count) pairs of the host's pool.
 */
export const BEAT_FLEET_LUA = `
${LUA_NOW}
local free = cjson.decode(ARGV[2])
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], nowMs(), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
for _, t in ipairs(free.t) do redis.call('ZADD', ARGV[3] .. 'place:' .. t, free.m, ARGV[1]) end
for i = 4, #ARGV, 2 do
  local warm = ARGV[3] .. 'place-warm:' .. ARGV[i]
  if tonumber(ARGV[i + 1]) > 0 then redis.call('ZADD', warm, ARGV[i + 1], ARGV[1])
  else redis.call('ZREM', warm, ARGV[1]) end
end
return 1
`;

/**
 * Marks a host lost once, on its own slot: only when its heartbeat is gone; its sandboxes'
 * records say \`lost\` in the same step (indexes and counters with them), so a host that
 * beats again (clearing the mark, then republishing) can never be overwritten by a late
 * marker. Reads only that host's own index. Returns the ids of the sandboxes marked, or
 * false when the host is alive or already marked. (The caller picks hosts silent past the
 * grace window from the fleet's last-seen index.)
 *
 * KEYS: heartbeat, lost, live index.  ARGV: updatedAt, host prefix ("<prefix>:").
 */
export const MARK_LOST_LUA = `
${LUA_WRITE_RECORD}
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
if not redis.call('SET', KEYS[2], '1', 'NX') then return false end
local marked = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local id = string.match(member, '|([^|]+)$')
  local record = decodeRecord(redis.call('GET', ARGV[2] .. 'sandbox:' .. id))
  if record and record.state ~= 'lost' then
    record.state = 'lost'
    record.updatedAt = ARGV[1]
    writeRecord(ARGV[2], id, cjson.encode(record), record, 0)
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
