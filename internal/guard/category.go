package guard

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Default content categories. Strong terms flag on their own at the default
// threshold; weak terms need company. The lists are deliberately modest.
var defaultCategories = map[string]struct{ strong, weak []string }{
	"violence": {
		strong: []string{"kill him", "kill her", "kill them", "murder", "massacre", "behead", "mass shooting", "build a bomb",
			"make a bomb", "杀人", "谋杀", "砍死", "杀死", "屠杀", "制造炸弹", "爆炸物", "恐怖袭击"},
		weak: []string{"kill", "attack", "stab", "shoot", "weapon", "gun", "violence", "torture", "打死", "暴力", "袭击", "枪支", "武器", "殴打", "报复"},
	},
	"self_harm": {
		strong: []string{"kill myself", "suicide", "end my life", "self-harm", "self harm", "cut myself", "自杀", "自残", "轻生", "结束自己的生命", "不想活"},
		weak:   []string{"overdose", "want to die", "hopeless", "割腕", "想死", "绝望"},
	},
	"sexual": {
		strong: []string{"porn", "explicit sex", "sexual content", "nude photos", "色情", "淫秽", "裸照", "性交易"},
		weak:   []string{"sexy", "nsfw", "erotic", "naked", "成人内容", "裸体", "性感"},
	},
	"illegal": {
		strong: []string{"make meth", "cook meth", "buy drugs", "sell drugs", "money laundering", "launder money", "counterfeit money",
			"hack into", "steal credit card", "make a fake id", "毒品", "制毒", "贩毒", "洗钱", "赌博", "诈骗", "伪造证件", "假证", "走私", "黑客攻击", "盗取"},
		weak: []string{"drugs", "cocaine", "heroin", "gambling", "fraud", "scam", "smuggle", "pirated", "malware", "ransomware", "非法", "违法", "盗版", "木马", "偷"},
	},
}

type catEntry struct {
	name string
	res  []*regexp.Regexp
	rew  float64
}

type categorySet struct {
	cats []catEntry
	m    *matcher // all categories; kw id = index into cats
}

// newCategorySet builds the category lists: a category named in over
// replaces its default list; entries starting with "re:" are regular
// expressions matched against the normalised (lower-cased) text.
func newCategorySet(over map[string][]string) (*categorySet, error) {
	names := map[string]bool{}
	for n := range defaultCategories {
		names[n] = true
	}
	for n := range over {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	cs := &categorySet{}
	var all []kw
	for ci, n := range sorted {
		if strings.TrimSpace(n) == "" {
			return nil, fmt.Errorf("empty category name")
		}
		e := catEntry{name: n, rew: 0.5}
		var list []kw
		if words, ok := over[n]; ok {
			for _, w := range words {
				if pat, ok := strings.CutPrefix(w, "re:"); ok {
					re, err := regexp.Compile(pat)
					if err != nil {
						return nil, fmt.Errorf("category %s: %w", n, err)
					}
					e.res = append(e.res, re)
					continue
				}
				list = append(list, kw{s: w, id: ci, weight: 0.5})
			}
		} else {
			d := defaultCategories[n]
			list = append(kwList(ci, 0.6, d.strong...), kwList(ci, 0.3, d.weak...)...)
		}
		all = append(all, list...)
		cs.cats = append(cs.cats, e)
	}
	cs.m = newMatcher(all)
	return cs, nil
}

func (cs *categorySet) score(text string, thresh float64) []Category {
	sp := getScratch()
	defer putScratch(sp)
	norm, _, _, _, _ := normalise(text, sp.norm)
	sp.norm = norm[:0]
	return cs.scoreNorm(bytesString(norm), thresh) // keeps no part of norm
}

// scoreNorm scores normalised text; a repeated term counts once.
func (cs *categorySet) scoreNorm(ns string, thresh float64) []Category {
	ct := cs.tally()
	cs.m.find(ns, func(h kwHit) { ct.hit(ns, h) })
	return ct.finish(ns, thresh)
}

// catScore accumulates one text's category hits (see scoreNorm).
type catScore struct {
	cs   *categorySet
	keep []float64
	seen []string
}

func (cs *categorySet) tally() *catScore {
	return cs.tallyIn(new(scratch))
}

// tallyIn is tally with its lists in sp (see getScratch).
func (cs *categorySet) tallyIn(sp *scratch) *catScore {
	ct := &sp.cat
	ct.cs = cs
	ct.keep = slices.Grow(ct.keep[:0], len(cs.cats))[:len(cs.cats)]
	for i := range ct.keep {
		ct.keep[i] = 1
	}
	ct.seen = ct.seen[:0]
	return ct
}

func (ct *catScore) hit(ns string, h kwHit) {
	w := ns[h.start:h.end]
	for _, x := range ct.seen {
		if x == w {
			return
		}
	}
	ct.seen = append(ct.seen, w)
	ct.keep[h.id] *= 1 - h.weight
}

func (ct *catScore) finish(ns string, thresh float64) []Category {
	cs, keep := ct.cs, ct.keep
	out := make([]Category, 0, len(cs.cats))
	for i, c := range cs.cats {
		for _, re := range c.res {
			if re.MatchString(ns) {
				keep[i] *= 1 - c.rew
			}
		}
		s := round3(1 - keep[i])
		out = append(out, Category{Category: c.name, Score: s, Flagged: s >= thresh})
	}
	return out
}
