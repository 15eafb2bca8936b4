package specialist

import (
	"context"
	"math"
	"math/rand/v2"
)

// softmaxParams configures a multinomial logistic regression fitted by
// stochastic gradient descent with L2 regularisation (Lambda), used next
// to the one-vs-rest SVMs as a second expert.
type softmaxParams struct {
	Lambda float64
	Epochs int
	Seed   uint64
}

// trainSoftmax fits multinomial logistic regression on x and returns the
// weights as [class][dim+1] (last entry: bias), the layout trainOVR uses.
// Rows labelled -1 are skipped. The visiting order comes from p.Seed, so
// the result is deterministic.
func trainSoftmax(ctx context.Context, x *csr, y []int32, nclass int, p softmaxParams) ([][]float32, error) {
	d := x.dim + 1
	// v is feature-major [d][nclass]; the weights are scale·v, so the L2
	// shrink of every step costs one multiplication. float32 halves the
	// memory traffic, which bounds this loop.
	v := make([]float32, d*nclass)
	scale := 1.0
	n := x.rows()
	order := make([]int, 0, n)
	for i := range n {
		if y[i] >= 0 {
			order = append(order, i)
		}
	}
	rng := rand.New(rand.NewPCG(p.Seed, 0x5eed))
	sc := make([]float32, nclass)
	const eta0 = 0.5
	t := 0.0
	for range p.Epochs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			eta := eta0 / (1 + eta0*p.Lambda*t)
			t++
			lo, hi := x.ptr[i], x.ptr[i+1]
			idx, val := x.idx[lo:hi], x.val[lo:hi]
			bias := v[(d-1)*nclass : d*nclass]
			copy(sc, bias)
			for k, f := range idx {
				row := v[int(f)*nclass : int(f)*nclass+nclass]
				a := val[k]
				for c, w := range row {
					sc[c] += a * w
				}
			}
			mx := float32(math.Inf(-1))
			for c := range sc {
				sc[c] *= float32(scale)
				mx = max(mx, sc[c])
			}
			var z float32
			for c, s := range sc {
				sc[c] = float32(math.Exp(float64(s - mx)))
				z += sc[c]
			}
			// Gradient of the loss: p - onehot(y).
			for c := range sc {
				sc[c] /= z
			}
			sc[y[i]]--
			scale *= 1 - eta*p.Lambda
			step := float32(eta / scale)
			for k, f := range idx {
				row := v[int(f)*nclass : int(f)*nclass+nclass]
				a := step * val[k]
				for c, g := range sc {
					row[c] -= a * g
				}
			}
			for c, g := range sc {
				bias[c] -= step * g
			}
			if scale < 1e-6 {
				for j := range v {
					v[j] *= float32(scale)
				}
				scale = 1
			}
		}
	}
	w := make([][]float32, nclass)
	for c := range w {
		w[c] = make([]float32, d)
		for f := range d {
			w[c][f] = float32(scale) * v[f*nclass+c]
		}
	}
	return w, nil
}

// mixWeights returns a + beta·b for weights in the [class][dim+1] layout.
func mixWeights(a, b [][]float32, beta float32) [][]float32 {
	out := make([][]float32, len(a))
	for c := range a {
		out[c] = make([]float32, len(a[c]))
		for f, x := range a[c] {
			out[c][f] = x + beta*b[c][f]
		}
	}
	return out
}
