// Package redisstore keeps dedupe keys, rate-limit buckets and the
// delivery journal in Redis, so that several gateway instances behind one
// load balancer share them: a redelivery that lands on another instance is
// still a duplicate, a 10/s limit is 10/s in all, and any instance
// delivers (and its admin API shows and replays) every accepted webhook,
// taking over the pending deliveries of an instance that died once their
// leases run out.
//
// It implements dedupe.Store and dedupe.Sizer (Dedupe), ratelimit.Limiter
// (Limiter) and journal.Store (Journal) on one go-redis UniversalClient
// (Client): a single node, Sentinel (MasterName) or Cluster. Every write is
// one Lua script or command, atomic on the server; keys that a script
// touches together share a hash tag, so Cluster works. Admit and Done do
// a delivery's dedupe and rate limit in two round trips in all.
//
// It needs Redis 5 or later (the tests run against Redis 7.0, Debian's
// redis-server). The package knows nothing of Caddy; its clock is
// injectable.
//
// # Round trips
//
//	dedupe Claim, Commit, Release          1 each
//	Limiter.Acquire                        1 (+1 for release with max_concurrent)
//	Admit + Done (claim, token, slot,      2
//	  commit or release, slot back)
//	Journal Append, Record, Replay, Get    1
//	Journal Claim                          2 (1 when nothing is due)
//	Journal NextDue, Stats, LastSeq        1
//	Journal Since                          2
//
// # When Redis fails
//
// Every method returns an error, never hangs: each round trip is bounded
// by Options.Timeout (3s by default, or the context's deadline if
// sooner); a refused connection fails at once. go-redis reconnects by
// itself when Redis is back. An Append that returns an error may still
// have been stored (the reply was lost): the sender is told 503, retries,
// and the retry is a new delivery, so the app can see it twice unless
// dedupe is on. go-redis retries a command once on a broken connection:
// Append (a nonce) and dedupe Claim (its token) recognise their own retry;
// a retried Acquire may take two tokens; a retried journal Claim leaves
// the targets of the lost reply leased until their lease runs out (late,
// not lost).
//
// # Persistence: what "acknowledged" means
//
// Append returns nil once Redis has answered; what survives a crash then
// depends on the Redis server's settings, not on this package:
//
//   - appendonly yes, appendfsync always: Redis writes and fsyncs the
//     append-only file before it answers (the writes of all clients
//     waiting at that moment share one fsync). Nothing acknowledged is
//     lost to a crash of Redis or of its machine. This is the setting for
//     "lose nothing"; it costs an fsync per batch of writes (see
//     BenchmarkAppend).
//   - appendonly yes, appendfsync everysec (Redis's default when the AOF
//     is on): the write reaches the kernel before Redis answers, and is
//     fsync'd within about a second. A crash of the Redis process loses
//     nothing; a power loss or kernel crash loses up to about two seconds
//     of acknowledged deliveries.
//   - appendfsync no: the kernel flushes when it likes (about 30s on
//     Linux): a machine crash loses that much.
//   - appendonly no (RDB snapshots only, or none): a restart loses
//     everything since the last snapshot. Not for the journal.
//
// The same settings decide what dedupe and rate limits remember across a
// Redis restart: without persistence a restarted Redis has forgotten which
// deliveries reached the app (a redelivery passes) and every bucket is
// full again.
//
// Replication is asynchronous: after a failover (Sentinel, Cluster) the
// new primary may lack the last writes the old one acknowledged. Keep the
// primary's own AOF as above.
//
// Set maxmemory-policy noeviction. The journal's keys have no expiry;
// under any eviction policy a full Redis would silently drop accepted
// deliveries. With noeviction a full Redis refuses the write, Append
// returns the error and the sender is told 503. (Dedupe keys and rate
// limit buckets all expire by themselves.)
//
// # Keys
//
// Every key starts with Options.Prefix (default "wv:"), so an ACL key
// pattern covers them all, e.g.
//
//	ACL SETUSER gateway on >password ~wv:* -@all +@read +@write +@scripting +@connection
//
// and instances share state exactly when they use the same Redis and
// prefix. See Dedupe, Limiter and Journal for the keys of each. In a
// Cluster the journal lives on one node (its hash tag is {journal}), a
// dedupe zone on one node per zone, rate-limit keys spread by key.
//
// # Clocks
//
// Leases, expiries, rate-limit arrivals and due times come from each
// instance's clock (Options.Now), not Redis's: keep the instances' clocks
// in sync (NTP). A skew of a few milliseconds shifts them by as much.
package redisstore
