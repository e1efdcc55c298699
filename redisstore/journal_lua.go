package redisstore

// The journal's scripts. Each runs atomically on the Redis node that holds
// the journal (every journal key carries the hash tag {journal}, so in a
// Cluster they are all on one node and a script may name keys it builds
// from the prefix J it is passed, as BullMQ's scripts do).
//
// A target is a JSON object in its delivery's hash (field t:<destination>)
// that the scripts decode and encode with cjson; it holds only strings and
// small integers, which cjson keeps exact. Times are strings the Go side
// formats (RFC 3339), and µs scores in the zsets, exact in a double.

// luaPrelude holds the helpers the scripts share.
const luaPrelude = `
local J = ARGV[1]

-- split cuts a NUL-separated list.
local function split(s)
	local out = {}
	if not s or s == '' then return out end
	for part in string.gmatch(s .. '\0', '(.-)%z') do out[#out + 1] = part end
	return out
end

-- destOf is the destination of a "route NUL destination" pair.
local function destOf(pair)
	return string.sub(pair, string.find(pair, '\0', 1, true) + 1)
end

-- count moves a Stats counter; one at zero is deleted.
local function count(pair, state, delta)
	local f = pair .. '\0' .. state
	if redis.call('HINCRBY', J .. 'counts', f, delta) <= 0 then
		redis.call('HDEL', J .. 'counts', f)
	end
end

-- less compares bytewise, as Go does (Lua's < follows the locale).
local function less(a, b)
	for i = 1, math.min(#a, #b) do
		local x, y = string.byte(a, i), string.byte(b, i)
		if x ~= y then return x < y end
	end
	return #a < #b
end
`

// appendLua stores a delivery, unless its id is taken. A retry of the same
// Append (go-redis retries once on a connection that broke after the
// write) finds its own nonce and succeeds.
//
// It assigns the delivery's Seq: the counter's next value, taken in the
// same script as the writes, so Seqs follow the order scripts run in.
//
// KEYS[1] J..ids; ARGV J, id, nonce, route, meta, received, body, target
// count, then per target: destination, due µs, target JSON. Returns the
// Seq (stored) or 0 (the id is taken).
var appendLua = newScript(luaPrelude + `
local id, route = ARGV[2], ARGV[4]
local dkey = J .. 'd:' .. id
if redis.call('EXISTS', dkey) == 1 then
	if redis.call('HGET', dkey, 'nonce') == ARGV[3] then return tonumber(redis.call('HGET', dkey, 'seq')) end
	return 0
end
local seq = redis.call('INCR', J .. 'seq')
local fields = {'meta', ARGV[5], 'route', route, 'received', ARGV[6], 'nonce', ARGV[3], 'seq', seq}
local dests = {}
for i = 0, tonumber(ARGV[8]) - 1 do
	local dest, due, tj = ARGV[9 + 3 * i], ARGV[10 + 3 * i], ARGV[11 + 3 * i]
	local pair = route .. '\0' .. dest
	dests[#dests + 1] = dest
	fields[#fields + 1] = 't:' .. dest
	fields[#fields + 1] = tj
	redis.call('ZADD', J .. 'due:' .. pair, due, id)
	redis.call('SADD', J .. 'dests', pair)
	redis.call('ZADD', J .. 'byseq:' .. dest, seq, id)
	count(pair, 'pending', 1)
end
fields[#fields + 1] = 'dests'
fields[#fields + 1] = table.concat(dests, '\0')
redis.call('HSET', dkey, unpack(fields))
redis.call('SET', J .. 'b:' .. id, ARGV[7])
redis.call('ZADD', KEYS[1], 0, id)
redis.call('ZADD', J .. 'open', 0, id)
redis.call('ZADD', J .. 'byseq', seq, id)
return seq
`)

// headsLua reports, per destination with something pending, its earliest
// due time and whether it is paused: what Claim and NextDue decide on
// (with the caller's quota) before touching anything.
//
// KEYS[1] J..dests, KEYS[2] J..paused; ARGV J. Returns a flat list of
// pair, earliest µs, paused (0 or 1).
var headsLua = newScript(luaPrelude + `
local out = {}
for _, pair in ipairs(redis.call('SMEMBERS', KEYS[1])) do
	local first = redis.call('ZRANGE', J .. 'due:' .. pair, 0, 0, 'WITHSCORES')
	if first[1] then
		out[#out + 1] = pair
		out[#out + 1] = first[2]
		out[#out + 1] = redis.call('SISMEMBER', KEYS[2], destOf(pair))
	end
end
return out
`)

// claimLua leases up to limit due targets, oldest first (by due time, id,
// destination), at most the given allowance per destination, none of a
// paused one. A leased target's due time moves to the lease's end, so it
// is due again then unless Record comes first.
//
// KEYS[1] J..paused; ARGV J, now µs, until µs, until, limit, pair count k,
// k times (pair, allowance), then limit lease tokens. Returns per task:
// id, meta, body, target JSON, history, seq.
var claimLua = newScript(luaPrelude + `
local limit, k = tonumber(ARGV[5]), tonumber(ARGV[6])
local cands = {}
for i = 0, k - 1 do
	local pair = ARGV[7 + 2 * i]
	local dest = destOf(pair)
	if redis.call('SISMEMBER', KEYS[1], dest) == 0 then
		local due = redis.call('ZRANGEBYSCORE', J .. 'due:' .. pair, '-inf', ARGV[2], 'WITHSCORES', 'LIMIT', 0, ARGV[8 + 2 * i])
		for x = 1, #due, 2 do
			cands[#cands + 1] = {tonumber(due[x + 1]), due[x], dest, pair}
		end
	end
end
table.sort(cands, function(a, b)
	if a[1] ~= b[1] then return a[1] < b[1] end
	if a[2] ~= b[2] then return less(a[2], b[2]) end
	return less(a[3], b[3])
end)
local out, used, tokens = {}, 0, 7 + 2 * k
for _, c in ipairs(cands) do
	if used == limit then break end
	local id, dest, pair = c[2], c[3], c[4]
	local dkey = J .. 'd:' .. id
	local tj = redis.call('HGET', dkey, 't:' .. dest)
	local t = tj and cjson.decode(tj)
	if not t or t.state ~= 'pending' then
		-- an index entry without its record: drop it
		redis.call('ZREM', J .. 'due:' .. pair, id)
	else
		t.next = ARGV[4]
		t.lease = ARGV[tokens + used]
		used = used + 1
		tj = cjson.encode(t)
		redis.call('HSET', dkey, 't:' .. dest, tj)
		redis.call('ZADD', J .. 'due:' .. pair, ARGV[3], id)
		local d = redis.call('HMGET', dkey, 'meta', 'h:' .. dest, 'seq')
		out[#out + 1] = {id, d[1], redis.call('GET', J .. 'b:' .. id) or '', tj, d[2] or '', d[3] or ''}
	end
end
return out
`)

// recordLua stores an attempt and the target's outcome, if the task's
// lease is still the target's; a target that is no longer pending marks
// its delivery finished once none is.
//
// KEYS[1] the delivery; ARGV J, id, destination, lease, state, next µs,
// next, now, now µs, status, error, attempt JSON, history bound. Returns 1
// (recorded) or 0 (stale).
var recordLua = newScript(luaPrelude + `
local id, dest, lease, state = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local dkey = KEYS[1]
local tj = redis.call('HGET', dkey, 't:' .. dest)
if not tj then return 0 end
local t = cjson.decode(tj)
if t.state ~= 'pending' or lease == '' or t.lease ~= lease then return 0 end
local route = redis.call('HGET', dkey, 'route')
local pair = route .. '\0' .. dest
local due = J .. 'due:' .. pair
redis.call('ZREM', due, id)
t.attempts = (t.attempts or 0) + 1
t.round = (t.round or 0) + 1
local status = tonumber(ARGV[10])
if status ~= 0 then t.last_status = status else t.last_status = nil end
if ARGV[11] ~= '' then t.last_error = ARGV[11] else t.last_error = nil end
t.lease = nil
t.updated = ARGV[8]
count(pair, 'pending', -1)
count(pair, state, 1)
t.state = state
if state == 'pending' then
	t.next = ARGV[7]
	redis.call('ZADD', due, ARGV[6], id)
else
	t.next = nil
	if redis.call('ZCARD', due) == 0 then redis.call('SREM', J .. 'dests', pair) end
end
redis.call('HSET', dkey, 't:' .. dest, cjson.encode(t))
local h = redis.call('HGET', dkey, 'h:' .. dest)
if h and h ~= '' then h = h .. '\n' .. ARGV[12] else h = ARGV[12] end
local lines = 1
for _ in string.gmatch(h, '\n') do lines = lines + 1 end
while lines > tonumber(ARGV[13]) do
	h = string.sub(h, string.find(h, '\n', 1, true) + 1)
	lines = lines - 1
end
redis.call('HSET', dkey, 'h:' .. dest, h)
if state == 'pending' then return 1 end
for _, d in ipairs(split(redis.call('HGET', dkey, 'dests'))) do
	if cjson.decode(redis.call('HGET', dkey, 't:' .. d)).state == 'pending' then return 1 end
end
redis.call('HSET', dkey, 'finished', ARGV[8])
redis.call('ZADD', J .. 'done:' .. route, ARGV[9], id)
redis.call('SADD', J .. 'doneroutes', route)
redis.call('ZREM', J .. 'open', id)
return 1
`)

// replayLua makes the finished targets of deliveries pending again, due
// now, with a fresh schedule: those in the given state ("" for both) and
// of the given destination ("" for all). Strict (a single Replay) answers
// -1 for an unknown id and -2 for an unknown destination; otherwise
// (ReplayWhere) those are passed over: pruned meanwhile.
//
// KEYS[1] J..ids; ARGV J, now µs, now, state, destination, strict (1 or
// 0), ids. Returns the targets replayed.
var replayLua = newScript(luaPrelude + `
local nowUS, now, statef, destf, strict = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6] == '1'
local total = 0
for i = 7, #ARGV do
	local id = ARGV[i]
	local dkey = J .. 'd:' .. id
	local route = redis.call('HGET', dkey, 'route')
	local dests = split(route and redis.call('HGET', dkey, 'dests'))
	local known = destf == ''
	for _, d in ipairs(dests) do known = known or d == destf end
	if not route then
		if strict then return -1 end
	elseif not known then
		if strict then return -2 end
	else
		local n = 0
		for _, d in ipairs(dests) do
			local t = cjson.decode(redis.call('HGET', dkey, 't:' .. d))
			if (destf == '' or d == destf) and t.state ~= 'pending' and (statef == '' or t.state == statef) then
				local pair = route .. '\0' .. d
				count(pair, t.state, -1)
				count(pair, 'pending', 1)
				t.state, t.next, t.round, t.lease, t.updated = 'pending', now, nil, nil, now
				t.replays = (t.replays or 0) + 1
				redis.call('HSET', dkey, 't:' .. d, cjson.encode(t))
				redis.call('ZADD', J .. 'due:' .. pair, nowUS, id)
				redis.call('SADD', J .. 'dests', pair)
				n = n + 1
			end
		end
		if n > 0 and redis.call('HEXISTS', dkey, 'finished') == 1 then
			redis.call('HDEL', dkey, 'finished')
			redis.call('ZREM', J .. 'done:' .. route, id)
			if redis.call('ZCARD', J .. 'done:' .. route) == 0 then redis.call('SREM', J .. 'doneroutes', route) end
			redis.call('ZADD', J .. 'open', 0, id)
		end
		total = total + n
	end
end
return total
`)

// pruneLua deletes up to a chunk of a route's deliveries that finished
// before the cutoff, and everything that points to them, the Seq indexes
// included (the counter stays: a Seq is never reused).
//
// KEYS[1] J..done:<route>; ARGV J, route, "(cutoff µs", chunk. Returns how
// many it deleted.
var pruneLua = newScript(luaPrelude + `
local route = ARGV[2]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3], 'LIMIT', 0, ARGV[4])
for _, id in ipairs(ids) do
	local dkey = J .. 'd:' .. id
	for _, d in ipairs(split(redis.call('HGET', dkey, 'dests'))) do
		local tj = redis.call('HGET', dkey, 't:' .. d)
		if tj then
			count(route .. '\0' .. d, cjson.decode(tj).state, -1)
			redis.call('ZREM', J .. 'due:' .. route .. '\0' .. d, id)
		end
		redis.call('ZREM', J .. 'byseq:' .. d, id)
	end
	redis.call('DEL', dkey, J .. 'b:' .. id)
	redis.call('ZREM', J .. 'ids', id)
	redis.call('ZREM', J .. 'byseq', id)
	redis.call('ZREM', J .. 'open', id)
	redis.call('ZREM', KEYS[1], id)
end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', J .. 'doneroutes', route) end
return #ids
`)

// statsLua reads the counters and when the oldest open delivery arrived.
//
// KEYS[1] J..counts, KEYS[2] J..open; ARGV J. Returns {counts as a flat
// list, received or nil}.
var statsLua = newScript(luaPrelude + `
local first = redis.call('ZRANGE', KEYS[2], 0, 0)
local received = false
if first[1] then received = redis.call('HGET', J .. 'd:' .. first[1], 'received') end
return {redis.call('HGETALL', KEYS[1]), received}
`)
