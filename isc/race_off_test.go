//go:build !race

package isc

const raceEnabled = false
