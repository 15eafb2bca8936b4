package specialist

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

func sharedData(b testing.TB) string {
	dir := os.Getenv("SWITCHYARD_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "banking77", "train.csv")); err != nil {
		b.Skip("shared data not found; set SWITCHYARD_DATA")
	}
	return dir
}

func loadBanking(b testing.TB) (train, test []Example) {
	dir := sharedData(b)
	opt := LoadOptions{TextColumn: "text", LabelColumn: "category"}
	train, err := LoadFile(filepath.Join(dir, "banking77", "train.csv"), opt)
	if err != nil {
		b.Fatal(err)
	}
	test, err = LoadFile(filepath.Join(dir, "banking77", "test.csv"), opt)
	if err != nil {
		b.Fatal(err)
	}
	return train, test
}

// BenchmarkTrainBanking77 measures a full training run (grid search on a
// validation split, calibration and refit) on Banking77's 10,003 rows.
func BenchmarkTrainBanking77(b *testing.B) {
	train, _ := loadBanking(b)
	for b.Loop() {
		if _, _, err := Train(context.Background(), train, nil, Config{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPredict measures single-message prediction (top 3) with a
// Banking77 model and reports the p99 latency, the model file size and the
// heap the loaded model holds.
func BenchmarkPredict(b *testing.B) {
	train, test := loadBanking(b)
	m, _, err := Train(context.Background(), train, nil, Config{C: []float64{0.3}, CharWeights: []float32{1}, NoRefit: true})
	if err != nil {
		b.Fatal(err)
	}
	buf := encode(b, m)
	loaded, heap := decodeHeap(b, buf)
	ctx := context.Background()
	texts := make([][]string, len(test))
	for i, e := range test {
		texts[i] = []string{e.Text}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := loaded.Predict(ctx, texts[i%len(texts)], 3); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		i++
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(len(buf))/(1<<20), "file-MiB")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
}

// decodeHeap decodes a model and returns it with the heap bytes it holds:
// the live heap with the model minus the live heap once it is dropped, so
// garbage freed in between does not count.
func decodeHeap(b *testing.B, buf []byte) (*Model, uint64) {
	var with, without runtime.MemStats
	loaded, err := DecodeModel(buf)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(loaded)
	loaded = nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	// Decode again for the caller; the figure above is what it holds.
	if loaded, err = DecodeModel(buf); err != nil {
		b.Fatal(err)
	}
	return loaded, with.HeapAlloc - without.HeapAlloc
}
