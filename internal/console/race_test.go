//go:build race

package console_test

// raceEnabled: the race detector slows inserts tenfold; timings mean nothing.
const raceEnabled = true
