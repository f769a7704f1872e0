/**
 * A host's part of a batch, on the fleet's slot: kept once per host (a part delivered twice
 * is kept as first written). When every host of the batch has given its part, answers
 * with all parts; the first caller to see the batch whole is told so, so the batch's end
 * is announced once.
 *
 * KEYS: parts, batch record, done flag.  ARGV: host id, part json, ttl seconds.
 * Returns {'partial'} | {'complete', first (0|1), host1, part1, host2, part2, ...} | {'nobatch'}.
 */
export const BATCH_PART_LUA = `
local json = redis.call('GET', KEYS[2])
if not json then return {'nobatch'} end
local batch = cjson.decode(json)
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
if redis.call('HLEN', KEYS[1]) < #batch.hosts then return {'partial'} end
local first = redis.call('SET', KEYS[3], '1', 'NX', 'EX', tonumber(ARGV[3])) and 1 or 0
local answer = {'complete', first}
for _, value in ipairs(redis.call('HGETALL', KEYS[1])) do answer[#answer + 1] = value end
return answer
`;
