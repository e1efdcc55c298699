package journal

// SmallChunks makes ReplayWhere and Prune work two deliveries at a time,
// for the conformance suite; it returns what undoes it.
func SmallChunks() (restore func()) {
	replay, prune := replayChunk, pruneChunk
	replayChunk, pruneChunk = 2, 2
	return func() { replayChunk, pruneChunk = replay, prune }
}
