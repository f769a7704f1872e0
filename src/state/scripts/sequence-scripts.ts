import { LUA_MARK_FINISHED, LUA_NOW, LUA_RELEASE } from './lua-common.ts';

/**
 * Enqueue, in one step: answer a repeated idempotency key with its first job; find where
 * the job goes (a create: the live host with the template and the most free memory; a
 * restore: the snapshot's host; any other op: the sandbox's host, which must be live unless
 * it is a destroy, and the sandbox not destroyed or failed); refuse a create or restore of a
 * sandbox id used before; reserve the capacity of a create or restore; take the sandbox's
 * next sequence number and record which job holds it.
 *
 * KEYS: idem, seq, seq-jobs, record.
 * ARGV: op, sandboxId, job id suffix, idem ttl (0: no key), key prefix ("<prefix>:"),
 *       placement ('sandbox' | 'create' | 'snapshot' | 'host'), template, snapshot or host id,
 *       vcpus, memoryMib. 'host' takes a number on a given host with no checks (a batch
 *       child, whose sandbox was checked when the batch was made).
 * Returns {'ok', ref} | {'dup', ref, jobExists} | {'exists'} | {'nocap', report} |
 *         {'notfound', what} | {'illegal', state} | {'lost', hostId} | {'corrupt', key}.
 */
export const ENQUEUE_LUA = `
${LUA_NOW}
local op, sandboxId, suffix, p = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local idemTtl = tonumber(ARGV[4])
if idemTtl > 0 then
  local earlier = redis.call('GET', KEYS[1])
  if earlier then
    local ref = cjson.decode(earlier)
    return {'dup', earlier, redis.call('EXISTS', p .. 'host-' .. ref.hostId .. ':' .. ref.jobId)}
  end
end
local function decoded(key)
  local json = redis.call('GET', key)
  if not json then return nil end
  local ok, value = pcall(cjson.decode, json)
  if not ok or type(value) ~= 'table' then return false end
  return value
end
local placement = ARGV[6]
local vcpus, mem = tonumber(ARGV[8]), tonumber(ARGV[9])
local chosen
local candidates = {}
if placement == 'sandbox' then
  local record = decoded(KEYS[4])
  if record == nil then return {'notfound', 'sandbox ' .. sandboxId} end
  if record == false or type(record.hostId) ~= 'string' then return {'corrupt', KEYS[4]} end
  if (record.state == 'destroyed' or record.state == 'failed') and op ~= 'destroy' then
    return {'illegal', record.state}
  end
  if op ~= 'destroy' and redis.call('EXISTS', p .. 'heartbeat:' .. record.hostId) == 0 then
    return {'lost', record.hostId}
  end
  chosen = record.hostId
elseif placement == 'host' then
  chosen = ARGV[7]
else
  if redis.call('EXISTS', KEYS[2]) == 1 then return {'exists'} end
  if placement == 'snapshot' then
    local snapshot = decoded(p .. 'snapshot:' .. ARGV[7])
    if snapshot == nil then return {'notfound', 'snapshot ' .. ARGV[7]} end
    if snapshot == false then return {'corrupt', p .. 'snapshot:' .. ARGV[7]} end
    candidates = { snapshot.hostId }
    vcpus, mem = tonumber(snapshot.vcpus), tonumber(snapshot.memoryMib)
  else
    candidates = redis.call('SMEMBERS', p .. 'hosts')
    table.sort(candidates)
  end
  local bestFree, bestSlots = -1, 0
  local report = {}
  for _, hostId in ipairs(candidates) do
    local beat = decoded(p .. 'heartbeat:' .. hostId)
    local serves = placement == 'snapshot'
    if beat and placement == 'create' and type(beat.templates) == 'table' then
      for _, t in ipairs(beat.templates) do if t == ARGV[7] then serves = true end end
    end
    if beat and serves then
      local used = redis.call('HMGET', p .. 'reserved:' .. hostId, 'vcpus', 'memoryMib', 'slots')
      local freeV = beat.capacity.vcpus - tonumber(used[1] or '0')
      local freeM = beat.capacity.memoryMib - tonumber(used[2] or '0')
      local usedS = tonumber(used[3] or '0')
      local freeS = beat.capacity.slots - usedS
      report[#report + 1] = { hostId = hostId, vcpus = freeV, memoryMib = freeM, slots = freeS }
      if freeV >= vcpus and freeM >= mem and freeS >= 1 then
        if freeM > bestFree or (freeM == bestFree and usedS < bestSlots) then
          chosen, bestFree, bestSlots = hostId, freeM, usedS
        end
      end
    end
  end
  if not chosen then return {'nocap', cjson.encode(report)} end
end
local now = nowMs()
local seq = redis.call('INCR', KEYS[2])
local jobId = op .. '-' .. sandboxId .. '-' .. seq .. '-' .. suffix
redis.call('HSET', KEYS[3], seq, jobId .. '|' .. now)
if placement == 'create' or placement == 'snapshot' then
  redis.call('HSET', p .. 'reservations:' .. chosen, sandboxId, vcpus .. '|' .. mem .. '|' .. jobId .. '|' .. now)
  redis.call('HINCRBY', p .. 'reserved:' .. chosen, 'vcpus', vcpus)
  redis.call('HINCRBY', p .. 'reserved:' .. chosen, 'memoryMib', mem)
  redis.call('HINCRBY', p .. 'reserved:' .. chosen, 'slots', 1)
end
local ref = cjson.encode({ jobId = jobId, hostId = chosen, sandboxId = sandboxId, op = op, seq = seq })
if idemTtl > 0 then redis.call('SET', KEYS[1], ref, 'EX', idemTtl) end
return {'ok', ref}
`;

/**
 * An add that failed: unless the job exists after all, its number is marked finished (so
 * nobody waits for it), its reservation released, and its idempotency key freed for a retry.
 *
 * KEYS: job, seq-done, seq-fin, seq-jobs, reservations, reserved, idem.
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
return 1
`;

/**
 * May job `seq` of a sandbox run now? Its predecessor (the first unfinished number) holds it
 * back only while that predecessor can still run: its job is live in BullMQ, or its add is
 * younger than the grace (a producer between taking the number and adding the job). A
 * number whose job never arrived is skipped; one whose job BullMQ finished without us
 * settling it (it stalled out) is reported so the worker settles it first.
 *
 * KEYS: seq-done, seq-fin, seq-jobs.  ARGV: seq, prefix of this queue's job keys, grace ms.
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
 * A job's end, in one step: its outcome, its number finished, its event on the stream, the
 * fleet channel and the enqueuing client's own channel, and (for a destroy, or a
 * create/restore that failed for good) its reservation released and the sandbox's record
 * and sequence keys set to expire after the retention. Returns {stream position, the
 * successor's job id or false}.
 *
 * KEYS: outcome, seq-done, seq-fin, seq-jobs, stream, reservations, reserved, seq, record.
 * ARGV: outcome json, outcome ttl, seq, event json, fleet channel, reply channel ('' for
 *       none), stream max length, sandbox id to release ('' for none), retention seconds.
 */
export const FINISH_LUA = `
${LUA_MARK_FINISHED}
${LUA_RELEASE}
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
local w = markFinished(KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[3]))
local position = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*', 'e', ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[4])
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], ARGV[4]) end
local nextJob = redis.call('HGET', KEYS[4], w + 1)
if ARGV[8] ~= '' then
  releaseReservation(KEYS[6], KEYS[7], ARGV[8])
  if not nextJob then
    for _, key in ipairs({ KEYS[2], KEYS[3], KEYS[4], KEYS[8], KEYS[9] }) do
      redis.call('EXPIRE', key, tonumber(ARGV[9]))
    end
  end
end
if nextJob then nextJob = string.match(nextJob, '^(.*)|%d+$') end
return {position, nextJob or false}
`;
