//go:build race

package isc

// raceEnabled: the race detector makes sync.Pool drop its items, so
// allocation figures measure the detector, not the code.
const raceEnabled = true
