//go:build race

package webhookverify

// raceEnabled says the tests were built with -race: the Caddy they build
// for process tests is too, so it shares their build cache.
const raceEnabled = true
