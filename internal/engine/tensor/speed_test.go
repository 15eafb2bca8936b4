//go:build linux

package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// TestKernelSpeed prints single-thread throughput of every kernel set,
// measured in thread CPU time rather than wall time, so that the figures
// hold on a shared, overloaded machine. It is a measurement, not a check:
// run it with
//
//	TENSOR_SPEED=1 go test -run KernelSpeed -v ./internal/engine/tensor
func TestKernelSpeed(t *testing.T) {
	if os.Getenv("TENSOR_SPEED") == "" {
		t.Skip("set TENSOR_SPEED=1 to measure")
	}
	r := newRand(30)
	measure := func(bytes int, f func()) (gbps float64, ns float64) {
		// Thread CPU time is per OS thread: stay on this one.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		f()
		best := time.Duration(1 << 62)
		iters := 1
		for {
			start := threadCPU()
			for range iters {
				f()
			}
			if d := threadCPU() - start; d > 20*time.Millisecond {
				break
			}
			iters *= 2
		}
		for range 5 {
			start := threadCPU()
			for range iters {
				f()
			}
			best = min(best, (threadCPU()-start)/time.Duration(iters))
		}
		return float64(bytes) / float64(best.Nanoseconds()), float64(best.Nanoseconds())
	}
	t.Run("rows", func(t *testing.T) { speedRows(r, measure) })
	t.Run("matvec", func(t *testing.T) { speedMatVec(r, measure) })
	t.Run("ops", func(t *testing.T) { speedOps(r, measure) })
}

type measureFunc func(bytes int, f func()) (gbps, ns float64)

// speedRows: cache-resident rows, compute speed of each kernel set.
func speedRows(r *rand.Rand, measure measureFunc) {
	const cols = 4096
	x := randVec(r, cols, 1)
	fmt.Printf("%-12s %-5s %12s %10s %8s\n", "kernels", "type", "row ns", "GB/s", "speedup")
	for _, typ := range Types() {
		w, _ := Quantize(typ, randVec(r, cols, 1))
		var a act
		if a.prepare(typ, 1, cols) {
			a.quantize(typ, 0, x)
		}
		var base float64
		for _, ks := range kernelSets {
			qd, fd := ks.rowFuncs(typ)
			var sink float32
			gb, ns := measure(len(w), func() {
				if qd != nil {
					sink += qd(w, a.qs, a.d, a.bs)
				} else {
					sink += fd(w, x)
				}
			})
			if base == 0 {
				base = ns
			}
			fmt.Printf("%-12s %-5s %12.0f %10.2f %7.1fx\n", ks.name, typ, ns, gb, base/ns)
		}
	}
}

// speedMatVec: Qwen2.5-0.5B FFN shapes streamed from memory, one thread,
// kernels in use; first the plain streaming read rate of this machine.
func speedMatVec(r *rand.Rand, measure measureFunc) {
	big := randVec(r, 24<<20, 1) // 96 MiB
	var sink float32
	gb, _ := measure(4*len(big), func() { sink += Dot(big, big[:len(big)]) })
	fmt.Printf("\nstreaming read (f32 Dot of a 96 MiB vector with itself): %.2f GB/s\n", gb)
	p := NewPool(1)
	defer p.Close()
	fmt.Printf("\nMatVec from memory, 1 thread, %s kernels\n", kern.name)
	for _, typ := range []Type{Q4_0, Q8_0, F16} {
		for _, sh := range []struct{ rows, cols int }{{4864, 896}, {896, 4864}} {
			base := randVec(r, sh.rows*sh.cols, 1)
			copies := max(2, (64<<20)/typ.rowBytes(sh.cols)/sh.rows)
			ws := make([][]byte, copies)
			ws[0], _ = Quantize(typ, base)
			for i := 1; i < copies; i++ {
				ws[i] = append([]byte(nil), ws[0]...)
			}
			xv := randVec(r, sh.cols, 1)
			dst := make([]float32, sh.rows)
			i := 0
			gb, ns := measure(len(ws[0]), func() {
				p.MatVec(dst, xv, ws[i%copies], typ, sh.rows, sh.cols)
				i++
			})
			fmt.Printf("%-5s %5dx%-5d %10.0f µs %8.2f GB/s\n", typ, sh.rows, sh.cols, ns/1000, gb)
		}
	}
}

// speedOps: the float32 helpers on an FFN-sized vector.
func speedOps(r *rand.Rand, measure measureFunc) {
	x, y := randVec(r, 4864, 1), randVec(r, 4864, 1)
	out := make([]float32, len(x))
	fmt.Println()
	for _, op := range []struct {
		name string
		f    func()
	}{
		{"RMSNorm", func() { RMSNorm(out, x, y, 1e-6) }},
		{"SwiGLU", func() { SwiGLU(out, x, y) }},
		{"Softmax", func() { copy(out, x); Softmax(out) }},
		{"SwiGLU via math.Exp", func() {
			for i, g := range x {
				out[i] = g / (1 + float32(math.Exp(float64(-g)))) * y[i]
			}
		}},
	} {
		_, ns := measure(1, op.f)
		fmt.Printf("%-20s %8.2f ns/element\n", op.name, ns/float64(len(x)))
	}
}
