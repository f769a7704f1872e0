import { LUA_OUTBOX } from './lua-common.ts';

/**
 * Lua that writes a sandbox record together with its host's indexes and counters, so a
 * listing or a count never disagrees with the records. Indexes are sorted sets of
 * `<createdAt>|<sandboxId>` (all scores 0): ordered by creation, paged by member with
 * ZRANGE BYLEX, stable under concurrent writes, and mergeable across hosts by member. A
 * destroyed or failed record leaves every index and expires after the retention. `p` is
 * the host's prefix with its trailing colon: every key here is on the host's slot.
 */
export const LUA_WRITE_RECORD = `
local function isGone(state) return state == 'destroyed' or state == 'failed' end
local function decodeRecord(json)
  if not json then return nil end
  local ok, value = pcall(cjson.decode, json)
  if ok and type(value) == 'table' and type(value.createdAt) == 'string' and type(value.state) == 'string' then
    return value
  end
  return nil
end
local function indexKeys(p, r)
  local keys = { p .. 'idx:live', p .. 'idx:state:' .. r.state }
  if type(r.labels) == 'table' then
    for k, v in pairs(r.labels) do keys[#keys + 1] = p .. 'idx:label:' .. k .. '=' .. tostring(v) end
  end
  return keys
end
-- Writes record json (decoded: new) for id; returns the previous state or false.
local function writeRecord(p, id, json, new, retentionSeconds)
  local key = p .. 'sandbox:' .. id
  local old = decodeRecord(redis.call('GET', key))
  if old and not isGone(old.state) then
    local member = old.createdAt .. '|' .. id
    for _, k in ipairs(indexKeys(p, old)) do redis.call('ZREM', k, member) end
    redis.call('HINCRBY', p .. 'counts', old.state, -1)
  end
  if isGone(new.state) then
    redis.call('SET', key, json, 'EX', retentionSeconds)
    -- Retained ones stay listable (ls --all) until their record expires: scored by expiry.
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000
    redis.call('ZADD', p .. 'idx:gone', now + retentionSeconds * 1000, new.createdAt .. '|' .. id)
    redis.call('ZREMRANGEBYSCORE', p .. 'idx:gone', '-inf', now)
    if not old or old.state ~= new.state then redis.call('HINCRBY', p .. 'counts', new.state, 1) end
  else
    redis.call('SET', key, json)
    local member = new.createdAt .. '|' .. id
    for _, k in ipairs(indexKeys(p, new)) do redis.call('ZADD', k, 0, member) end
    redis.call('HINCRBY', p .. 'counts', new.state, 1)
  end
  return old and old.state or false
end
`;

/**
 * Writes one sandbox record with its indexes and counters and, when its state changed,
 * its state event (to the host's outbox for the stream, and on the fleet's and the
 * sandbox's channels), in one step on the host's slot.
 *
 * KEYS: record.
 * ARGV: host prefix ("<prefix>:"), sandbox id, record json, retention seconds, event json
 *       ('' for none), fleet channel, sandbox channel.
 * Returns the previous state, or false when there was no (readable) record.
 */
export const PUT_SANDBOX_LUA = `
${LUA_WRITE_RECORD}
${LUA_OUTBOX}
local new = cjson.decode(ARGV[3])
local previous = writeRecord(ARGV[1], ARGV[2], ARGV[3], new, tonumber(ARGV[4]))
if ARGV[5] ~= '' and previous ~= new.state then
  toOutbox(ARGV[1], ARGV[5])
  redis.call('PUBLISH', ARGV[6], ARGV[5])
  redis.call('PUBLISH', ARGV[7], ARGV[5])
end
return previous
`;
