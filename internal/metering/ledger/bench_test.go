package ledger

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
)

// BenchmarkIngest measures records per second through Add and a final
// Flush, with the default batch size and flush interval.
func BenchmarkIngest(b *testing.B) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			d := dbtest.Open(b, dialect)
			w, err := Open(context.Background(), Options{DB: d, Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			r := rec("", t0, "org-1", "proj-1", "key-1", "gpt-4o-mini", "openai-east", 1234, "USD")
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = "bench-" + strconv.Itoa(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				r.ID = ids[i]
				if err := w.Add(&r); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkAdd measures Add alone (the cost on the request path), from
// parallel goroutines; the writer is held back from inserting meanwhile.
func BenchmarkAdd(b *testing.B) {
	d := dbtest.Open(b, db.SQLite)
	w, err := Open(context.Background(), Options{DB: d, Dir: b.TempDir(), BatchSize: 1 << 30, FlushEvery: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		b.StopTimer()
		w.Close()
	}()
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		r := rec("", t0, "org-1", "proj-1", "key-1", "gpt-4o-mini", "openai-east", 1234, "USD")
		for pb.Next() {
			r.ID = "add-" + strconv.FormatInt(next.Add(1), 10)
			if err := w.Add(&r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCompressLog(b *testing.B) {
	req := []byte(`{"model":"chat","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Where is my parcel? It was due on Monday and the tracking page has not changed since."}]}`)
	resp := []byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"chat","choices":[{"index":0,"message":{"role":"assistant","content":"Your parcel left the depot this morning and should arrive tomorrow."},"finish_reason":"stop"}],"usage":{"prompt_tokens":40,"completion_tokens":14,"total_tokens":54}}`)
	b.ReportAllocs()
	for b.Loop() {
		Compress(req)
		Compress(resp)
		searchText(req, resp)
	}
}
