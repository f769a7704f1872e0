import { LUA_MARK_FINISHED, LUA_NOW, LUA_RELEASE } from './lua-common.ts';

/**
 * Enqueue, in one step: answer a repeated idempotency key with its first job; refuse a
 * create or restore of a sandbox id used before; for a create or restore, choose the host
 * with the most free memory among the candidates and reserve its capacity; take the
 * sandbox's next sequence number and record which job holds it.
 *
 * KEYS: idem, seq, seq-jobs, then per candidate host: heartbeat, reserved, reservations.
 * ARGV: op, sandboxId, job id suffix, idem ttl (0: no key), vcpus, memoryMib, admit (1|0),
 *       prefix of BullMQ job keys ("<prefix>:host-"), candidate host ids...
 * Returns {'ok', ref} | {'dup', ref, jobExists} | {'exists'} | {'nocap', report}.
 */
export const ENQUEUE_LUA = `
${LUA_NOW}
local op, sandboxId, suffix = ARGV[1], ARGV[2], ARGV[3]
local idemTtl = tonumber(ARGV[4])
if idemTtl > 0 then
  local earlier = redis.call('GET', KEYS[1])
  if earlier then
    local ref = cjson.decode(earlier)
    return {'dup', earlier, redis.call('EXISTS', ARGV[8] .. ref.hostId .. ':' .. ref.jobId)}
  end
end
if (op == 'create' or op == 'restore') and redis.call('EXISTS', KEYS[2]) == 1 then
  return {'exists'}
end
local now = nowMs()
local hosts = #ARGV - 8
local chosen, chosenIndex
if ARGV[7] == '1' then
  local vcpus, mem = tonumber(ARGV[5]), tonumber(ARGV[6])
  local bestFree, bestSlots = -1, 0
  local report = {}
  for i = 1, hosts do
    local base = 3 + 3 * (i - 1)
    local beat = redis.call('GET', KEYS[base + 1])
    if beat then
      local cap = cjson.decode(beat).capacity
      local used = redis.call('HMGET', KEYS[base + 2], 'vcpus', 'memoryMib', 'slots')
      local freeV = cap.vcpus - tonumber(used[1] or '0')
      local freeM = cap.memoryMib - tonumber(used[2] or '0')
      local usedS = tonumber(used[3] or '0')
      local freeS = cap.slots - usedS
      report[#report + 1] = { hostId = ARGV[8 + i], vcpus = freeV, memoryMib = freeM, slots = freeS }
      if freeV >= vcpus and freeM >= mem and freeS >= 1 then
        if freeM > bestFree or (freeM == bestFree and usedS < bestSlots) then
          chosen, chosenIndex, bestFree, bestSlots = ARGV[8 + i], i, freeM, usedS
        end
      end
    end
  end
  if not chosen then return {'nocap', cjson.encode(report)} end
else
  chosen, chosenIndex = ARGV[9], 1
end
local seq = redis.call('INCR', KEYS[2])
local jobId = op .. '-' .. sandboxId .. '-' .. seq .. '-' .. suffix
redis.call('HSET', KEYS[3], seq, jobId .. '|' .. now)
if ARGV[7] == '1' then
  local base = 3 + 3 * (chosenIndex - 1)
  redis.call('HSET', KEYS[base + 3], sandboxId, ARGV[5] .. '|' .. ARGV[6] .. '|' .. jobId .. '|' .. now)
  redis.call('HINCRBY', KEYS[base + 2], 'vcpus', tonumber(ARGV[5]))
  redis.call('HINCRBY', KEYS[base + 2], 'memoryMib', tonumber(ARGV[6]))
  redis.call('HINCRBY', KEYS[base + 2], 'slots', 1)
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
 * A job's end, in one step: its outcome, its number finished, its event on the stream and
 * channels, and (for a destroy, or a create/restore that failed for good) its reservation
 * released. Returns {stream position, the successor's job id or false}.
 *
 * KEYS: outcome, seq-done, seq-fin, seq-jobs, stream, reservations, reserved.
 * ARGV: outcome json, outcome ttl, seq, event json, fleet channel, sandbox channel,
 *       stream max length, sandbox id to release ('' for none).
 */
export const FINISH_LUA = `
${LUA_MARK_FINISHED}
${LUA_RELEASE}
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
local w = markFinished(KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[3]))
local position = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*', 'e', ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[4])
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], ARGV[4]) end
if ARGV[8] ~= '' then releaseReservation(KEYS[6], KEYS[7], ARGV[8]) end
local nextJob = redis.call('HGET', KEYS[4], w + 1)
if nextJob then nextJob = string.match(nextJob, '^(.*)|%d+$') end
return {position, nextJob or false}
`;
