package tokenize

import (
	"runtime"
	"strings"
	"testing"
)

// benchText returns about 1 KB of text made of whole sentences.
func benchText(sentences string) string {
	var b strings.Builder
	for b.Len() < 1024 {
		b.WriteString(sentences)
	}
	return b.String()[:b.Len()]
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

// BenchmarkLoad measures building an encoding from the embedded vocabulary
// (what the first Get pays) and reports the heap it keeps.
func BenchmarkLoad(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			var kept uint64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				e, err := build(name)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				kept = after.HeapAlloc - before.HeapAlloc
				runtime.KeepAlive(e)
			}
			b.ReportMetric(float64(kept)/(1<<20), "heap-MiB")
		})
	}
}
