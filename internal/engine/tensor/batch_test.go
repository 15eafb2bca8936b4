package tensor

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMatMulMatchesMatVec checks that a batched product gives every token
// exactly the result of a one-token product, whichever kernels the batch
// uses (the four-token kernels keep the one-token order of additions), so
// prompt processing and generation agree bit for bit.
func TestMatMulMatchesMatVec(t *testing.T) {
	r := newRand(21)
	tests := []struct{ rows, cols, n int }{
		{1, 32, 4}, {3, 64, 5}, {17, 96, 8}, {70, 896, 9}, {5, 4864, 4}, {130, 256, 13},
	}
	for _, threads := range []int{1, 2} {
		p := NewPool(threads)
		defer p.Close()
		for _, typ := range []Type{Q8_0, Q4_0, Q4_K, F16} {
			for _, tc := range tests {
				t.Run(fmt.Sprintf("%s/%dx%dx%d/threads=%d", typ, tc.rows, tc.cols, tc.n, threads), func(t *testing.T) {
					if tc.cols%typ.BlockSize() != 0 {
						t.Skip("cols not a whole number of blocks")
					}
					w, err := Quantize(typ, randVec(r, tc.rows*tc.cols, 0.5))
					if err != nil {
						t.Fatal(err)
					}
					x := randVec(r, tc.n*tc.cols, 1)
					got := make([]float32, tc.n*tc.rows)
					p.MatMul(got, x, tc.n, w, typ, tc.rows, tc.cols)
					want := make([]float32, tc.n*tc.rows)
					for i := range tc.n {
						p.MatVec(want[i*tc.rows:(i+1)*tc.rows], x[i*tc.cols:(i+1)*tc.cols], w, typ, tc.rows, tc.cols)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("MatMul differs from MatVec per token (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}
