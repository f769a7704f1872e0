/**
 * Lua shared by hangar's Redis scripts. Every script runs atomically on one slot: a host's
 * (`{host:<id>}`) or the fleet's (`{fleet}`), so check-then-act inside one script never
 * races another producer or worker, and each is legal on a Redis Cluster. Keys a script
 * builds from its prefix argument are on the same slot as its declared keys.
 */

/** `now` in ms from the server's clock, so producers' and workers' clocks never matter. */
export const LUA_NOW = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Marks one sequence number finished and advances the watermark over every contiguous
 * finished number, so "all before n are done" stays one GET.
 */
export const LUA_MARK_FINISHED = `
local function markFinished(doneKey, finKey, jobsKey, seq)
  redis.call('HDEL', jobsKey, seq)
  local w = tonumber(redis.call('GET', doneKey) or '0')
  if seq <= w then return w end
  redis.call('SADD', finKey, seq)
  while redis.call('SISMEMBER', finKey, w + 1) == 1 do
    redis.call('SREM', finKey, w + 1)
    w = w + 1
  end
  redis.call('SET', doneKey, w)
  return w
end
`;

/** Releases a sandbox's reservation once; a second release finds nothing and changes nothing. */
export const LUA_RELEASE = `
local function releaseReservation(resKey, totKey, sandboxId)
  local value = redis.call('HGET', resKey, sandboxId)
  if not value then return 0 end
  local vcpus, mem = string.match(value, '^(%d+)|(%d+)|')
  redis.call('HDEL', resKey, sandboxId)
  redis.call('HINCRBY', totKey, 'vcpus', -tonumber(vcpus))
  redis.call('HINCRBY', totKey, 'memoryMib', -tonumber(mem))
  redis.call('HINCRBY', totKey, 'slots', -1)
  return 1
end
`;

/** Whether BullMQ still holds a job that can run (it exists and has not finished). */
export const LUA_JOB_LIVE = `
local function jobLive(jobKey)
  if redis.call('EXISTS', jobKey) == 0 then return false end
  return not redis.call('HGET', jobKey, 'finishedOn')
end
`;

/**
 * Appends an event to the host's outbox (`<host prefix>:outbox`), numbered, in the same
 * script as the change it tells of; the worker forwards it to the fleet's stream, once.
 * A counter that is new (first use, or lost with a Redis that kept nothing) starts from
 * the clock (ms x 1000), so numbers keep growing past what was forwarded before.
 */
export const LUA_OUTBOX = `
local function toOutbox(hostPrefix, json)
  local n = redis.call('INCR', hostPrefix .. 'outbox-n')
  if n == 1 then
    local t = redis.call('TIME')
    n = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) * 1000
    -- Formatted by hand: Lua would print a 16-digit number as 1.7e+15.
    redis.call('SET', hostPrefix .. 'outbox-n', string.format('%.0f', n))
  end
  redis.call('RPUSH', hostPrefix .. 'outbox', string.format('%.0f', n) .. '|' .. json)
end
`;
