import { LUA_MARK_FINISHED, LUA_NOW, LUA_OUTBOX, LUA_RELEASE } from './lua-common.ts';
import { LUA_WRITE_RECORD } from './record-scripts.ts';

/**
 * Placement of a create or restore, on the fleet's slot: answer a repeated idempotency key
 * with its first job; refuse a sandbox id that is taken; choose the host (a create: a host
 * with a ready pool VM of the template and shape if one fits, else the first host in the
 * template's index, most free memory first, whose last heartbeat is
 * fresh and whose free capacity fits, else the first fresh one, since the figures may lag;
 * a restore: the snapshot's host, or the host a move names); take the capacity
 * from that host's free figures (its next heartbeat sets them from the truth again); and
 * record which host holds the sandbox. The host's own slot then reserves for real
 * (ENQUEUE, mode 'placed'). Reads the top of one sorted set: its cost does not grow with
 * the fleet unless the fleet is full.
 *
 * KEYS: idem (or placeholder), where, host-free, placement index (create) or snapshot record (restore).
 * ARGV: op, sandboxId, job id suffix, idem ttl (0: no key), 'create' | 'snapshot', vcpus,
 *       memoryMib, template, excluded host ids (comma-separated), fleet prefix ("<prefix>:"),
 *       a restore's target host ('' for the snapshot's own).
 * Returns {'ok', ref, vcpus, memoryMib} | {'dup', ref} | {'exists'} | {'nocap', report} |
 *         {'notfound', what} | {'lost', hostId} | {'corrupt', key}.
 */
export const PLACE_LUA = `
${LUA_NOW}
local op, sandboxId, suffix, fp = ARGV[1], ARGV[2], ARGV[3], ARGV[10]
local idemTtl = tonumber(ARGV[4])
if idemTtl > 0 then
  local earlier = redis.call('GET', KEYS[1])
  if earlier then return {'dup', earlier} end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'exists'} end
local vcpus, mem, template = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local excluded = {}
for h in string.gmatch(ARGV[9], '[^,]+') do excluded[h] = true end
local now = nowMs()
local function entryOf(hostId)
  local json = redis.call('HGET', KEYS[3], hostId)
  if not json then return nil end
  local ok, e = pcall(cjson.decode, json)
  if not ok or type(e) ~= 'table' or tonumber(e.exp) == nil or tonumber(e.exp) < now then return nil end
  return e
end
local function serves(e)
  if type(e.t) ~= 'table' then return false end
  for _, t in ipairs(e.t) do if t == template then return true end end
  return false
end
local function fits(e) return e.v >= vcpus and e.m >= mem and e.s >= 1 end
local chosen, entry, fallback, fallbackEntry
local report = {}
if ARGV[5] == 'snapshot' then
  local json = redis.call('GET', KEYS[4])
  if not json then return {'notfound', 'snapshot'} end
  local ok, snap = pcall(cjson.decode, json)
  if not ok or type(snap) ~= 'table' or type(snap.hostId) ~= 'string' then return {'corrupt', KEYS[4]} end
  vcpus, mem = tonumber(snap.vcpus), tonumber(snap.memoryMib)
  -- The snapshot's home, or the host a move names (which fetches it from its home).
  local target = snap.hostId
  if ARGV[11] ~= nil and ARGV[11] ~= '' then target = ARGV[11] end
  local e = entryOf(target)
  if not e then return {'lost', target} end
  report[1] = { hostId = target, vcpus = e.v, memoryMib = e.m, slots = e.s }
  if not excluded[target] then chosen, entry = target, e end
else
  -- A host with a ready pool VM of this template and shape first: its create skips the boot.
  local warmKey = fp .. 'place-warm:' .. template .. '/' .. ARGV[6] .. '/' .. ARGV[7]
  for _, hostId in ipairs(redis.call('ZREVRANGE', warmKey, 0, 15)) do
    local e = entryOf(hostId)
    if e and serves(e) and not excluded[hostId] and fits(e) then
      chosen, entry = hostId, e
      if tonumber(redis.call('ZINCRBY', warmKey, -1, hostId)) <= 0 then redis.call('ZREM', warmKey, hostId) end
      break
    end
  end
  local offset = 0
  while not chosen do
    local page = redis.call('ZREVRANGE', KEYS[4], offset, offset + 15)
    if #page == 0 then break end
    for _, hostId in ipairs(page) do
      local e = entryOf(hostId)
      if e and serves(e) and not excluded[hostId] then
        if #report < 16 then report[#report + 1] = { hostId = hostId, vcpus = e.v, memoryMib = e.m, slots = e.s } end
        if not fallback then fallback, fallbackEntry = hostId, e end
        if fits(e) then chosen, entry = hostId, e break end
      end
    end
    offset = offset + 16
  end
end
-- The figures may lag (room given back since the last heartbeat): with no host fitting by
-- them, the best live one is asked; its own slot answers for certain.
if not chosen and fallback then chosen, entry = fallback, fallbackEntry end
if not chosen then return {'nocap', cjson.encode(report)} end
entry.v, entry.m, entry.s = entry.v - vcpus, entry.m - mem, entry.s - 1
redis.call('HSET', KEYS[3], chosen, cjson.encode(entry))
for _, t in ipairs(entry.t) do redis.call('ZADD', fp .. 'place:' .. t, entry.m, chosen) end
redis.call('SET', KEYS[2], chosen)
local ref = cjson.encode({ jobId = op .. '-' .. sandboxId .. '-1-' .. suffix, hostId = chosen, sandboxId = sandboxId, op = op, seq = 1 })
if idemTtl > 0 then redis.call('SET', KEYS[1], ref, 'EX', idemTtl) end
return {'ok', ref, vcpus, mem}
`;

/**
 * Undoes a placement whose host refused it or whose job was never added: the sandbox id is
 * free again, the idempotency key too (if it still names this job), and the host's free
 * figures get the capacity back.
 *
 * KEYS: where, idem (or placeholder), host-free.
 * ARGV: hostId, jobId, vcpus, memoryMib, fleet prefix ("<prefix>:").
 */
export const UNPLACE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
local idem = redis.call('GET', KEYS[2])
if idem then
  local ok, ref = pcall(cjson.decode, idem)
  if ok and type(ref) == 'table' and ref.jobId == ARGV[2] then redis.call('DEL', KEYS[2]) end
end
local json = redis.call('HGET', KEYS[3], ARGV[1])
if json then
  local ok, e = pcall(cjson.decode, json)
  if ok and type(e) == 'table' and type(e.t) == 'table' then
    e.v, e.m, e.s = e.v + tonumber(ARGV[3]), e.m + tonumber(ARGV[4]), e.s + 1
    redis.call('HSET', KEYS[3], ARGV[1], cjson.encode(e))
    for _, t in ipairs(e.t) do redis.call('ZADD', ARGV[5] .. 'place:' .. t, e.m, ARGV[1]) end
  end
end
return 1
`;

/**
 * Enqueue on a host's slot, in one step. Mode 'sandbox' (a job on an existing sandbox):
 * answer a repeated idempotency key with its first job; the sandbox must exist (its record,
 * or the number its create took: a job may queue behind a create not yet started), not be
 * destroyed or failed, and its host be live (a destroy excepted); take its next number.
 * Mode 'placed' (a create or restore placed here): the host must be live and have room
 * (heartbeat capacity less reservations), the capacity is reserved, and the sandbox takes
 * number 1; repeating it for the same job changes nothing. Mode 'host' (a batch child,
 * whose sandbox was checked when the batch was made): the next number, no checks.
 *
 * KEYS: idem (or placeholder), seq, seq-jobs, record, heartbeat, reservations, reserved.
 * ARGV: op, sandboxId, job id suffix, idem ttl (0: no key), mode, job id (placed), vcpus,
 *       memoryMib, host id, prefix of this host's job keys.
 * Returns {'ok', ref} | {'dup', ref, jobExists} | {'exists'} | {'nocap', report} |
 *         {'notfound', what} | {'illegal', state} | {'lost', hostId} | {'corrupt', key}.
 */
export const ENQUEUE_LUA = `
${LUA_NOW}
local op, sandboxId, suffix, mode, hostId = ARGV[1], ARGV[2], ARGV[3], ARGV[5], ARGV[9]
local idemTtl = tonumber(ARGV[4])
local now = nowMs()
local function decoded(key)
  local json = redis.call('GET', key)
  if not json then return nil end
  local ok, value = pcall(cjson.decode, json)
  if not ok or type(value) ~= 'table' then return false end
  return value
end
local function refOf(jobId, seq)
  return cjson.encode({ jobId = jobId, hostId = hostId, sandboxId = sandboxId, op = op, seq = seq })
end
if mode == 'placed' then
  local jobId = ARGV[6]
  local held = redis.call('HGET', KEYS[3], 1)
  if held and string.sub(held, 1, #jobId + 1) == jobId .. '|' then return {'ok', refOf(jobId, 1)} end
  if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then return {'exists'} end
  local beat = decoded(KEYS[5])
  if not beat then return {'lost', hostId} end
  local vcpus, mem = tonumber(ARGV[7]), tonumber(ARGV[8])
  local used = redis.call('HMGET', KEYS[7], 'vcpus', 'memoryMib', 'slots')
  local freeV = beat.capacity.vcpus - tonumber(used[1] or '0')
  local freeM = beat.capacity.memoryMib - tonumber(used[2] or '0')
  local freeS = beat.capacity.slots - tonumber(used[3] or '0')
  if freeV < vcpus or freeM < mem or freeS < 1 then
    return {'nocap', cjson.encode({{ hostId = hostId, vcpus = freeV, memoryMib = freeM, slots = freeS }})}
  end
  redis.call('HSET', KEYS[6], sandboxId, vcpus .. '|' .. mem .. '|' .. jobId .. '|' .. now)
  redis.call('HINCRBY', KEYS[7], 'vcpus', vcpus)
  redis.call('HINCRBY', KEYS[7], 'memoryMib', mem)
  redis.call('HINCRBY', KEYS[7], 'slots', 1)
  redis.call('SET', KEYS[2], 1)
  redis.call('HSET', KEYS[3], 1, jobId .. '|' .. now)
  return {'ok', refOf(jobId, 1)}
end
if idemTtl > 0 then
  local earlier = redis.call('GET', KEYS[1])
  if earlier then
    local ref = cjson.decode(earlier)
    return {'dup', earlier, redis.call('EXISTS', ARGV[10] .. ref.jobId)}
  end
end
if mode == 'sandbox' then
  local record = decoded(KEYS[4])
  -- No record yet but a number taken: the create or restore is queued, not yet started.
  if record == nil and redis.call('EXISTS', KEYS[2]) == 1 then record = { hostId = hostId, state = 'creating' } end
  if record == nil then return {'notfound', 'sandbox ' .. sandboxId} end
  if record == false or type(record.hostId) ~= 'string' then return {'corrupt', KEYS[4]} end
  if (record.state == 'destroyed' or record.state == 'failed') and op ~= 'destroy' then
    return {'illegal', record.state}
  end
  if op ~= 'destroy' and redis.call('EXISTS', KEYS[5]) == 0 then return {'lost', hostId} end
end
local seq = redis.call('INCR', KEYS[2])
local jobId = op .. '-' .. sandboxId .. '-' .. seq .. '-' .. suffix
redis.call('HSET', KEYS[3], seq, jobId .. '|' .. now)
local ref = refOf(jobId, seq)
if idemTtl > 0 then redis.call('SET', KEYS[1], ref, 'EX', idemTtl) end
return {'ok', ref}
`;

/**
 * An add that failed: unless the job exists after all, its number is marked finished (so
 * nobody waits for it), its reservation released, and its idempotency key freed for a retry.
 * A create or restore that never got its job leaves no sequence behind, so the id can be
 * placed again.
 *
 * KEYS: job, seq-done, seq-fin, seq-jobs, reservations, reserved, idem (or placeholder),
 *       seq, record.
 * ARGV: seq, sandboxId, jobId.
 */
export const SKIP_LUA = `
${LUA_MARK_FINISHED}
${LUA_RELEASE}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
markFinished(KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[1]))
local res = redis.call('HGET', KEYS[5], ARGV[2])
if res and string.find(res, '|' .. ARGV[3] .. '|', 1, true) then
  releaseReservation(KEYS[5], KEYS[6], ARGV[2])
end
local idem = redis.call('GET', KEYS[7])
if idem and cjson.decode(idem).jobId == ARGV[3] then redis.call('DEL', KEYS[7]) end
if tonumber(ARGV[1]) == 1 and redis.call('EXISTS', KEYS[9]) == 0 then
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[8])
end
return 1
`;

/**
 * May job \`seq\` of a sandbox run now? Its predecessor (the first unfinished number) holds it
 * back only while that predecessor can still run: its job is live in BullMQ, or its add is
 * younger than the grace (a producer between taking the number and adding the job). A
 * number whose job never arrived is skipped; one whose job BullMQ finished without us
 * settling it (it stalled out) is reported so the worker settles it first.
 *
 * KEYS: seq-done, seq-fin, seq-jobs.  ARGV: seq, prefix of this host's job keys, grace ms.
 * Returns {'run'} | {'finished'} | {'wait', jobId} | {'orphan', jobId, its number}.
 */
export const GATE_LUA = `
${LUA_NOW}
${LUA_MARK_FINISHED}
local seq = tonumber(ARGV[1])
local now = nowMs()
for _ = 1, 1000 do
  local w = tonumber(redis.call('GET', KEYS[1]) or '0')
  if seq <= w or redis.call('SISMEMBER', KEYS[2], seq) == 1 then return {'finished'} end
  if seq == w + 1 then return {'run'} end
  local p = w + 1
  local entry = redis.call('HGET', KEYS[3], p)
  if entry then
    local jobId, at = string.match(entry, '^(.*)|(%d+)$')
    local jobKey = ARGV[2] .. jobId
    if redis.call('EXISTS', jobKey) == 1 then
      if redis.call('HGET', jobKey, 'finishedOn') then return {'orphan', jobId, p} end
      return {'wait', jobId}
    end
    if now - tonumber(at) < tonumber(ARGV[3]) then return {'wait', jobId} end
  end
  markFinished(KEYS[1], KEYS[2], KEYS[3], p)
end
return {'wait', ''}
`;

/**
 * A job's end, in one step on its host's slot: the sandbox's record with its indexes and
 * its state event (when the job changed it), the job's outcome, its number finished, its
 * event (to the host's outbox for the stream, on the fleet's and sandbox's channels and on
 * the enqueuing client's own channel), and (for a destroy, or a create/restore that failed
 * for good) its reservation released and the sandbox's record and sequence keys set to
 * expire after the retention. Returns {the successor's job id or false, the watermark}.
 *
 * KEYS: outcome, seq-done, seq-fin, seq-jobs, reservations, reserved, seq, record.
 * ARGV: outcome json, outcome ttl, seq, event json, fleet channel, reply channel ('' for
 *       none), sandbox id to release ('' for none), retention seconds, host prefix
 *       ("<prefix>:"), sandbox channel, record json ('' for none), state event json ('' for none).
 */
export const FINISH_LUA = `
${LUA_MARK_FINISHED}
${LUA_RELEASE}
${LUA_WRITE_RECORD}
${LUA_OUTBOX}
local p, retention = ARGV[9], tonumber(ARGV[8])
if ARGV[11] ~= '' then
  local record = cjson.decode(ARGV[11])
  local previous = writeRecord(p, record.sandboxId, ARGV[11], record, retention)
  if ARGV[12] ~= '' and previous ~= record.state then
    toOutbox(p, ARGV[12])
    redis.call('PUBLISH', ARGV[5], ARGV[12])
    redis.call('PUBLISH', ARGV[10], ARGV[12])
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
local w = markFinished(KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[3]))
toOutbox(p, ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[4])
redis.call('PUBLISH', ARGV[10], ARGV[4])
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], ARGV[4]) end
local nextJob = redis.call('HGET', KEYS[4], w + 1)
if ARGV[7] ~= '' then
  releaseReservation(KEYS[5], KEYS[6], ARGV[7])
  if not nextJob then
    for _, key in ipairs({ KEYS[2], KEYS[3], KEYS[4], KEYS[7], KEYS[8] }) do
      redis.call('EXPIRE', key, retention)
    end
  end
end
if nextJob then nextJob = string.match(nextJob, '^(.*)|%d+$') end
return {nextJob or false, w}
`;
