package tokenize

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// On a shared machine, run with -count=10 and quote the fastest run (or
// compare with benchstat): contention only ever adds time.

// benchText returns about 1 KB of text made of whole sentences.
func benchText(sentences string) string {
	var b strings.Builder
	for b.Len() < 1024 {
		b.WriteString(sentences)
	}
	return b.String()
}

var (
	englishKB = benchText("The quick brown fox jumps over the lazy dog. It's 2024, and we've shipped 3 releases; they're all stable, aren't they? ")
	chineseKB = benchText("我们今天去公园散步，天气非常好。这家店的商品质量不错，物流也很快，下次还会再来购买。")
)

func benchmarkCount(b *testing.B, name, text string) {
	enc := mustGet(b, name)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		enc.Count(text)
	}
}

func BenchmarkCountEnglish1KB_o200k(b *testing.B)  { benchmarkCount(b, O200KBase, englishKB) }
func BenchmarkCountChinese1KB_o200k(b *testing.B)  { benchmarkCount(b, O200KBase, chineseKB) }
func BenchmarkCountEnglish1KB_cl100k(b *testing.B) { benchmarkCount(b, CL100KBase, englishKB) }
func BenchmarkCountChinese1KB_cl100k(b *testing.B) { benchmarkCount(b, CL100KBase, chineseKB) }

func BenchmarkEncodeEnglish1KB_o200k(b *testing.B) {
	enc := mustGet(b, O200KBase)
	b.SetBytes(int64(len(englishKB)))
	b.ReportAllocs()
	for b.Loop() {
		enc.Encode(englishKB)
	}
}

// BenchmarkMerge compares the two merge algorithms on one piece of Chinese
// text (no pre-tokenizer split) of growing length, to place smallPiece.
func BenchmarkMerge(b *testing.B) {
	enc := mustGet(b, O200KBase)
	text := strings.Repeat("我们今天去公园散步天气非常好这家店的商品质量不错物流也很快下次还会再来购买", 20)
	for _, n := range []int{24, 48, 96, 192, 384} {
		piece := text[:n]
		parts := make([]part, 0, n+1)
		b.Run("scan/"+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				enc.vocab.mergeScan(piece, parts)
			}
		})
		var sc heapScratch
		b.Run("heap/"+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				enc.vocab.mergeHeap(piece, parts, &sc)
			}
		})
	}
}

// BenchmarkLoad measures building an encoding from the embedded vocabulary
// (what the first Get pays) and reports the heap the encoding keeps.
func BenchmarkLoad(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			var kept uint64
			var took time.Duration
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				start := time.Now()
				e, err := build(name)
				took += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				kept = after.HeapAlloc - before.HeapAlloc
				runtime.KeepAlive(e)
			}
			b.ReportMetric(took.Seconds()*1e3/float64(b.N), "build-ms")
			b.ReportMetric(float64(kept)/(1<<20), "heap-MiB")
		})
	}
}

func BenchmarkCountChatRequestSmall(b *testing.B) {
	enc, err := Get(O200KBase)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"model":"bench","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello."}],"max_tokens":64}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CountChatRequest(enc, body); err != nil {
			b.Fatal(err)
		}
	}
}
