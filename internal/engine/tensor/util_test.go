package tensor

import (
	"math/rand/v2"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// randVec returns n normally distributed values with occasional outliers, as
// real activations and weights have.
func randVec(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		x := r.NormFloat64() * scale
		if r.IntN(64) == 0 {
			x *= 8
		}
		v[i] = float32(x)
	}
	return v
}
