/**
 * Forwards a host's outbox entries into the fleet's stream, on the fleet's slot: only
 * entries numbered above what was forwarded before, so replaying entries after a crash
 * (between this and the trim) adds nothing twice. Outbox numbers only grow: they start
 * from the clock when a host's counter is new (see LUA_OUTBOX).
 *
 * KEYS: stream, forwarded.  ARGV: host id, stream max length, then (number, event json) pairs.
 * Returns the highest number forwarded so far.
 */
export const FORWARD_LUA = `
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
for i = 3, #ARGV, 2 do
  local n = tonumber(ARGV[i])
  if n > last then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[i + 1])
    last = n
  end
end
-- Formatted by hand: Lua would print a 16-digit number as 1.7e+15.
local text = string.format('%.0f', last)
redis.call('HSET', KEYS[2], ARGV[1], text)
return text
`;

/**
 * Drops forwarded entries from the head of a host's outbox, on the host's slot.
 * KEYS: outbox.  ARGV: highest number forwarded.  Returns how many were dropped.
 */
export const TRIM_OUTBOX_LUA = `
local last = tonumber(ARGV[1])
local dropped = 0
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  local n = tonumber(string.match(head, '^(%d+)|'))
  if n and n > last then break end
  redis.call('LPOP', KEYS[1])
  dropped = dropped + 1
end
return dropped
`;
