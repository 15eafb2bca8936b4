package dataset

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// gen makes synthetic text: English-looking words (common words mixed with
// made-up ones) or Chinese characters.
type gen struct {
	rng   *rand.Rand
	vocab []string
}

func newGen(seed uint64) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(seed, 1))}
	common := []string{"the", "and", "to", "of", "is", "it", "for", "my", "you", "with", "that", "on", "was", "can"}
	g.vocab = append(g.vocab, common...)
	for range 6000 {
		n := 3 + g.rng.IntN(7)
		var b strings.Builder
		for range n {
			b.WriteByte(byte('a' + g.rng.IntN(26)))
		}
		g.vocab = append(g.vocab, b.String())
	}
	return g
}

func (g *gen) word() string {
	if g.rng.IntN(3) == 0 {
		return g.vocab[g.rng.IntN(14)]
	}
	return g.vocab[14+g.rng.IntN(len(g.vocab)-14)]
}

// words returns about chars characters of words.
func (g *gen) words(chars int) []string {
	var ws []string
	n := 0
	for n < chars {
		w := g.word()
		ws = append(ws, w)
		n += len(w) + 1
	}
	return ws
}

func (g *gen) han(n int) []string {
	cs := make([]string, n)
	for i := range cs {
		cs[i] = string(rune(0x4E00 + g.rng.IntN(2500)))
	}
	return cs
}

// mutate edits a few tokens: replacements, insertions, deletions.
func (g *gen) mutate(toks []string, edits int, han bool) []string {
	out := append([]string(nil), toks...)
	for range edits {
		i := g.rng.IntN(len(out))
		tok := g.word()
		if han {
			tok = g.han(1)[0]
		}
		switch g.rng.IntN(3) {
		case 0:
			out[i] = tok
		case 1:
			out = append(out[:i], append([]string{tok}, out[i:]...)...)
		default:
			out = append(out[:i], out[i+1:]...)
		}
	}
	return out
}

func join(toks []string, han bool) string {
	if han {
		return strings.Join(toks, "")
	}
	return strings.Join(toks, " ")
}

// TestNearDupRecall builds base texts and edited copies, takes as truth
// every (base, copy) pair whose shingle Jaccard is at least 0.8, and
// checks that near-duplicate detection puts at least 90% of them in one
// cluster.
func TestNearDupRecall(t *testing.T) {
	for _, han := range []bool{false, true} {
		t.Run(map[bool]string{false: "words", true: "cjk"}[han], func(t *testing.T) {
			g := newGen(7)
			const bases, copies = 3000, 1500
			var texts []string
			for range bases {
				if han {
					texts = append(texts, join(g.han(200), true))
				} else {
					texts = append(texts, join(g.words(500), false))
				}
			}
			sh := &shingler{k: 3}
			var st textStats
			type pair struct{ a, b int }
			var truth []pair
			for range copies {
				b := g.rng.IntN(bases)
				var toks []string
				if han {
					toks = strings.Split(texts[b], "")
				} else {
					toks = strings.Fields(texts[b])
				}
				c := join(g.mutate(toks, 1+g.rng.IntN(12), han), han)
				texts = append(texts, c)
				j := jaccard(sh.shingles(texts[b], nil, &st), sh.shingles(c, nil, &st))
				if j >= 0.8 {
					truth = append(truth, pair{b, len(texts) - 1})
				}
			}
			sets := make([][]uint32, len(texts))
			sigs := make([][numHashes]uint32, len(texts))
			keep := make([]bool, len(texts))
			mh := newMinhasher()
			for i, s := range texts {
				sets[i] = sh.shingles(s, nil, &st)
				mh.sign(sets[i], &sigs[i])
				keep[i] = true
			}
			root, err := nearDuplicates(context.Background(), sets, sigs, keep, 0.8, 2)
			if err != nil {
				t.Fatal(err)
			}
			found := 0
			for _, p := range truth {
				if root[p.a] == root[p.b] {
					found++
				}
			}
			recall := float64(found) / float64(len(truth))
			t.Logf("near-dup recall at Jaccard ≥ 0.8: %d/%d = %.4f", found, len(truth), recall)
			if len(truth) < 300 || recall < 0.9 {
				t.Errorf("recall %.4f over %d pairs, want ≥ 0.9", recall, len(truth))
			}
			// Every merge is a true near-duplicate: no two bases merged.
			for i := range bases {
				if int(root[i]) != i {
					t.Errorf("base %d merged into %d", i, root[i])
				}
			}
		})
	}
}

// corpus makes n rows of about 500 characters: 10% exact copies (case and
// spacing changed), 10% near copies, 5% with an e-mail or phone number.
func corpus(n int) []Row {
	g := newGen(42)
	rows := make([]Row, 0, n)
	for len(rows) < n {
		i := len(rows)
		switch {
		case i > 100 && i%10 == 3:
			src := rows[g.rng.IntN(i)].Text
			rows = append(rows, Row{Text: strings.ToUpper(src[:1]) + src[1:] + "  "})
		case i > 100 && i%10 == 7:
			src := strings.Fields(rows[g.rng.IntN(i)].Text)
			rows = append(rows, Row{Text: join(g.mutate(src, 2, false), false)})
		case i%20 == 5:
			ws := g.words(460)
			ws = append(ws, fmt.Sprintf("mail user%d@example.com or call 138%08d", i, i))
			rows = append(rows, Row{Text: join(ws, false)})
		default:
			rows = append(rows, Row{Text: join(g.words(500), false)})
		}
	}
	return rows
}

// BenchmarkCurate100k curates 100,000 rows of ~500 characters with exact
// and near-duplicate removal (Jaccard 0.8), quality filters and PII
// scrubbing: go test ./internal/dataset -run '^$' -bench Curate100k -benchtime 1x
func BenchmarkCurate100k(b *testing.B) {
	rows := corpus(100_000)
	o := DefaultCurateOptions()
	o.ScrubPII = true
	o.MinChars, o.MaxChars = 20, 5000
	o.Langs = []string{"en", "zh"}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		out, rep, err := CurateRows(context.Background(), rows, o)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/curation")
		b.ReportMetric(float64(len(out)), "rows-kept")
		for _, s := range rep.Steps {
			b.Logf("%-16s removed %6d changed %6d in %.2fs %v", s.Step, s.Removed, s.Changed, s.Seconds, s.Reasons)
		}
	}
}

// BenchmarkNearDup measures near-duplicate detection alone on 20,000 rows.
func BenchmarkNearDup(b *testing.B) {
	rows := corpus(20_000)
	o := CurateOptions{NearDup: 0.8}
	b.ResetTimer()
	for range b.N {
		if _, _, err := CurateRows(context.Background(), rows, o); err != nil {
			b.Fatal(err)
		}
	}
}
