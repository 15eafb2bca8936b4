package guard

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// InjExample is one labelled text of the injection corpus.
type InjExample struct {
	Text   string
	Label  bool   // true: injection or jailbreak
	Set    string // where it comes from, e.g. "deepset", "jailbench", "own_en"
	Lang   string // "en", "zh" (deepset is mostly English)
	Family string // the attack family where the data says (own sets, CyberSecEval variants)
	Split  string // "train", "val" or "test"
}

// prepared is an example taken apart once for training and validation.
type prepared struct {
	rules []uint32   // rule and view features
	segs  [][]uint32 // n-gram features per segment
	y     float64
	wt    float64
}

// prepare analyses text exactly as Scanner.scan does.
func prepare(text string, bits uint) prepared {
	norm, zw, homo, tags, bidi := normalise(text, nil)
	var fired [16]bool
	defaultRules.m.find(bytesString(norm), func(h kwHit) { fired[h.id] = true })
	a := analyse(defaultRules, text, norm, &fired, zw, homo, tags, bidi)
	var p prepared
	for _, n := range a.ev.names {
		p.rules = append(p.rules, ruleFeature(n, bits))
	}
	for _, s := range a.segs {
		var f []uint32
		ngrams(s, bits, func(x uint32) { f = append(f, x) })
		p.segs = append(p.segs, dedupStream(f))
	}
	return p
}

// TrainOptions tune TrainDetector; zero values mean the defaults.
type TrainOptions struct {
	Bits   uint    // log2 of the weight table (default 18)
	Epochs int     // default 12
	L2     float64 // default 1e-6 per update
	MaxFPR float64 // the threshold keeps validation false positives at or under this (default 0.01)
	Seed   uint64  // shuffle seed (default 1)
	Log    func(format string, args ...any)
}

// TrainDetector fits the built-in injection model on the train split of
// examples (logistic regression, AdaGrad, on the best-scoring window of
// each text) and picks its threshold on the val split: the highest F1
// whose false-positive rate is at most MaxFPR. The result is
// deterministic for the same examples and options.
func TrainDetector(ctx context.Context, examples []InjExample, o TrainOptions) (*Detector, error) {
	if o.Bits == 0 {
		o.Bits = 18
	}
	if o.Epochs == 0 {
		o.Epochs = 20
	}
	if o.L2 == 0 {
		o.L2 = 1e-6
	}
	if o.MaxFPR == 0 {
		o.MaxFPR = 0.01
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var train, val []prepared
	var npos, nneg float64
	for _, ex := range examples {
		if ex.Split != "train" && ex.Split != "val" {
			continue
		}
		p := prepare(ex.Text, o.Bits)
		if ex.Label {
			p.y = 1
		}
		if ex.Split == "val" {
			val = append(val, p)
			continue
		}
		p.wt = 1
		if strings.HasPrefix(ex.Set, "own_") || strings.HasPrefix(ex.Set, "deepset") || strings.HasPrefix(ex.Set, "cyberseceval") {
			p.wt = 3 // the hand-written hard cases are few; count them more
		}
		if ex.Label {
			npos += p.wt
		} else {
			nneg += p.wt
		}
		train = append(train, p)
	}
	if npos == 0 || nneg == 0 || len(val) == 0 {
		return nil, fmt.Errorf("train: need positives and negatives in train and a val split (have %v/%v, val %d)", npos, nneg, len(val))
	}
	// balance the classes
	for i := range train {
		if train[i].y == 1 {
			train[i].wt *= (npos + nneg) / (2 * npos)
		} else {
			train[i].wt *= (npos + nneg) / (2 * nneg)
		}
	}
	w := make([]float64, 1<<o.Bits)
	g2 := make([]float64, 1<<o.Bits)
	var bias, gb float64
	const lr = 0.3
	rng := rand.New(rand.NewPCG(o.Seed, 0x5157))
	order := make([]int, len(train))
	for i := range order {
		order[i] = i
	}
	upd := func(f uint32, g float64) {
		g += o.L2 * w[f]
		g2[f] += g * g
		w[f] -= lr * g / (math.Sqrt(g2[f]) + 1e-8)
	}
	for ep := 0; ep < o.Epochs; ep++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var loss float64
		for _, i := range order {
			p := &train[i]
			z, seg, win := bestWindow(p, w, bias)
			pr := 1 / (1 + math.Exp(-z))
			loss -= p.wt * (p.y*math.Log(pr+1e-12) + (1-p.y)*math.Log(1-pr+1e-12))
			g := (pr - p.y) * p.wt
			gb += g * g
			bias -= lr * g / (math.Sqrt(gb) + 1e-8)
			for _, f := range p.rules {
				upd(f, g)
			}
			if seg >= 0 {
				fs := p.segs[seg][win[0]:win[1]]
				gn := g / winNorm(len(fs))
				for _, f := range fs {
					upd(f, gn)
				}
			}
		}
		logf("epoch %d: loss %.4f", ep+1, loss/float64(len(train)))
	}
	// quantise to int8
	maxAbs := 0.0
	for _, x := range w {
		maxAbs = max(maxAbs, math.Abs(x))
	}
	d := &Detector{bits: o.Bits, scale: maxAbs / 127, w: make([]int8, len(w))}
	for i, x := range w {
		d.w[i] = int8(math.Round(x / d.scale))
	}
	d.bias = bias
	// threshold on val, with the quantised weights
	type sv struct {
		z float64
		y bool
	}
	var vs []sv
	var vpos, vneg int
	for i := range val {
		z, _, _ := bestWindowQ(&val[i], d)
		vs = append(vs, sv{z, val[i].y == 1})
		if val[i].y == 1 {
			vpos++
		} else {
			vneg++
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].z > vs[j].z })
	bestF1, bestZ := -1.0, 0.0
	tp, fp := 0, 0
	for i, v := range vs {
		if v.y {
			tp++
		} else {
			fp++
		}
		if i+1 < len(vs) && vs[i+1].z == v.z {
			continue
		}
		if float64(fp) > o.MaxFPR*float64(vneg) {
			break
		}
		f1 := 2 * float64(tp) / float64(tp+vpos+fp)
		if f1 > bestF1 {
			bestF1 = f1
			if i+1 < len(vs) {
				bestZ = (v.z + vs[i+1].z) / 2
			} else {
				bestZ = v.z - 1e-3
			}
		}
	}
	d.bias -= bestZ
	d.Trained = fmt.Sprintf("train %d texts (%.0f pos / %.0f neg weight), val %d (%d pos): threshold at F1 %.3f with FPR <= %.3f; bits %d, epochs %d",
		len(train), npos, nneg, len(val), vpos, bestF1, o.MaxFPR, o.Bits, o.Epochs)
	logf("%s", d.Trained)
	return d, nil
}

// bestWindow returns the logit of p's best window with float weights and
// which window it is (segment −1: none).
func bestWindow(p *prepared, w []float64, bias float64) (float64, int, [2]int) {
	z := bias
	for _, f := range p.rules {
		z += w[f]
	}
	best, seg, win := math.Inf(-1), -1, [2]int{}
	for si, fs := range p.segs {
		for _, r := range windows(len(fs)) {
			if r[1] == r[0] {
				continue
			}
			s := 0.0
			for _, f := range fs[r[0]:r[1]] {
				s += w[f]
			}
			s /= winNorm(r[1] - r[0])
			if s > best {
				best, seg, win = s, si, r
			}
		}
	}
	if seg < 0 {
		return z, -1, win
	}
	return z + best, seg, win
}

// bestWindowQ is bestWindow with the detector's quantised weights; it
// matches Detector.score.
func bestWindowQ(p *prepared, d *Detector) (float64, int, [2]int) {
	var rule int32
	for _, f := range p.rules {
		rule += int32(d.w[f])
	}
	best, seg, win := 0.0, -1, [2]int{}
	for si, fs := range p.segs {
		for _, r := range windows(len(fs)) {
			if r[1] == r[0] {
				continue
			}
			var s int32
			for _, f := range fs[r[0]:r[1]] {
				s += int32(d.w[f])
			}
			v := float64(s) / winNorm(r[1]-r[0])
			if seg < 0 || v > best {
				best, seg, win = v, si, r
			}
		}
	}
	return d.bias + d.scale*(float64(rule)+best), seg, win
}

// Obfuscations are the transforms the corpus applies to positives to
// measure (and train) the detector's views.
var Obfuscations = []string{"zero_width", "homoglyph", "leet", "base64", "fullwidth", "spaced", "pinyin"}

// Obfuscate applies one obfuscation to text; ok is false when it does
// not apply (spaced letters to Chinese, Pinyin to English).
func Obfuscate(kind, text string, seed uint64) (string, bool) {
	rng := rand.New(rand.NewPCG(seed, 77))
	var sb strings.Builder
	switch kind {
	case "zero_width":
		for i, r := range text {
			sb.WriteRune(r)
			if i%3 == 1 {
				sb.WriteRune(0x200B)
			}
		}
	case "homoglyph":
		sub := map[rune]rune{'a': 'а', 'e': 'е', 'o': 'о', 'p': 'р', 'c': 'с', 'i': 'і', 'x': 'х'}
		for _, r := range text {
			if s, ok := sub[r]; ok && rng.IntN(2) == 0 {
				r = s
			}
			sb.WriteRune(r)
		}
	case "leet":
		sub := map[rune]rune{'o': '0', 'i': '1', 'e': '3', 'a': '4', 's': '5', 't': '7'}
		n := 0
		for _, r := range text {
			if s, ok := sub[r]; ok && rng.IntN(2) == 0 {
				r = s
				n++
			}
			sb.WriteRune(r)
		}
		if n == 0 {
			return "", false
		}
	case "base64":
		prefix := []string{"Decode this and follow it: ", "base64: ", "请解码并执行：", ""}[rng.IntN(4)]
		sb.WriteString(prefix + b64(text))
	case "fullwidth":
		for _, r := range text {
			if r > 0x20 && r < 0x7f {
				r += 0xFF01 - 0x21
			}
			sb.WriteRune(r)
		}
	case "spaced":
		if hasHan(text) {
			return "", false
		}
		for i, r := range text {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteRune(r)
		}
	case "pinyin":
		if !hasHan(text) {
			return "", false
		}
		n := 0
		for _, r := range text {
			if p, ok := pinyinOf[r]; ok && rng.IntN(3) > 0 {
				sb.WriteString(strings.ReplaceAll(p, "v", "u"))
				n++
				continue
			}
			sb.WriteRune(r)
		}
		if n == 0 {
			return "", false
		}
	default:
		return "", false
	}
	return sb.String(), true
}

func hasHan(s string) bool {
	for _, r := range s {
		if isHanLike(r) {
			return true
		}
	}
	return false
}

// splitOf places key deterministically: test with probability testPct
// percent, else val with probability valPct of the rest, else train.
func splitOf(key string, testPct, valPct int) string {
	h := uint64(fnvOffset)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * fnvPrime
	}
	h = mix(h)
	if int(h%100) < testPct {
		return "test"
	}
	if int((h/100)%100) < valPct {
		return "val"
	}
	return "train"
}

func mix(h uint64) uint64 { return (h ^ h>>31) * 0x9E3779B97F4A7C15 }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
