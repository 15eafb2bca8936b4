// Package hashmix holds the 64-bit bit mixer that the specialist feature
// hasher and the dataset near-duplicate finder share. Its output is part
// of saved specialist models (feature keys) and of dataset fingerprints,
// so it must never change.
package hashmix

// Mix64 is splitmix64's finaliser: a bijection on uint64 whose every output
// bit depends on every input bit.
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
