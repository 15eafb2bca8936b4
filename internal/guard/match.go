package guard

import "strings"

// Type indices into Types.
const (
	tEmail = iota
	tPhone
	tCNID
	tBankCard
	tIBAN
	tIP
	tSecret
	tPassport
	tUSSSN
	tPlate
	tURLCred
	tPerson
	tAddress
	numTypes
)

// matcher finds many keywords in one pass. Keywords are matched
// ASCII-case-insensitively; an ASCII keyword must sit on word boundaries.
// Candidates are looked up by the first two (lowercased) bytes: cls says
// whether any keyword starts with a byte (most bytes, UTF-8 continuation
// bytes included, start none and are passed over), row picks that first
// byte's 256-entry slice of head, indexed by the second byte.
type matcher struct {
	cls  [256]uint8  // by text byte: clsNone, clsWord (alnum: only at a word start) or clsAny
	row  [256]uint16 // by text byte: offset of its row in head
	head []uint16    // row + second byte → 1+bucket index (0 = none)
	bkt  [][]kent
	kws  []kw
}

// kent is a bucket's entry for one keyword: its first (up to) eight bytes
// as a little-endian word with the mask of the bytes that count, so one
// compare against the lowered text tests them all.
type kent struct {
	pre, mask uint64
	ki        int32
	long      bool // longer than eight bytes: the rest is compared apart
}

// Byte classes of matcher.cls.
const (
	clsNone = iota // no keyword starts with this byte
	clsWord        // keywords start with it, all on a word boundary
	clsAny         // keywords start with it
)

type kw struct {
	s            string // lowercase
	id           int
	weight       float64
	wordL, wordR bool // needs a word boundary on the left / right
	c2           int  // third byte, or -1 for a two-byte keyword
	set          int  // which list of a merged matcher (see mergeMatchers)
}

type kwHit struct {
	start, end int
	id         int
	weight     float64
	set        int
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 32
	}
	return c
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

func newMatcher(list []kw) *matcher {
	m := &matcher{bkt: [][]kent{nil}}
	type key struct{ c0, c1 byte }
	bucket := map[key]uint16{}
	var order []key
	for _, k := range list {
		k.s = strings.ToLower(k.s)
		if len(k.s) < 2 {
			continue
		}
		k.wordL = isAlnum(k.s[0])
		k.wordR = isAlnum(k.s[len(k.s)-1])
		k.c2 = -1
		if len(k.s) > 2 {
			k.c2 = int(k.s[2])
		}
		kk := key{k.s[0], k.s[1]}
		b := bucket[kk]
		if b == 0 {
			b = uint16(len(m.bkt))
			m.bkt = append(m.bkt, nil)
			bucket[kk] = b
			order = append(order, kk)
		}
		e := kent{ki: int32(len(m.kws)), long: len(k.s) > 8}
		for j := 0; j < len(k.s) && j < 8; j++ {
			e.pre |= uint64(k.s[j]) << (8 * j)
			e.mask |= 0xFF << (8 * j)
		}
		m.bkt[b] = append(m.bkt[b], e)
		m.kws = append(m.kws, k)
	}
	// one row of head per distinct first byte; row 0 stays empty
	m.head = make([]uint16, 256)
	var rowOf [256]uint16
	for _, kk := range order {
		if rowOf[kk.c0] == 0 {
			rowOf[kk.c0] = uint16(len(m.head))
			m.head = append(m.head, make([]uint16, 256)...)
		}
		m.head[int(rowOf[kk.c0])+int(kk.c1)] = bucket[kk]
	}
	for c := 0; c < 256; c++ {
		lc := lower(byte(c))
		r := rowOf[lc]
		if r == 0 {
			continue
		}
		m.row[c] = r
		m.cls[c] = clsAny
		if isAlnum(lc) {
			m.cls[c] = clsWord
		}
	}
	return m
}

// find calls fn for every keyword occurrence in s (overlaps included), in
// order of start, then of the keyword list.
func (m *matcher) find(s string, fn func(h kwHit)) {
	n := len(s)
	for i := 0; i+1 < n; i++ {
		c := s[i]
		switch m.cls[c] {
		case clsNone:
			continue
		case clsWord:
			// every keyword starting with an alnum byte needs a boundary
			if i > 0 && isAlnum(s[i-1]) {
				continue
			}
		}
		b := m.head[int(m.row[c])+int(lower(s[i+1]))]
		if b == 0 {
			continue
		}
		if i+8 <= n {
			// lowered next eight bytes against each entry's prefix word
			x := lower8(load64(s[i : i+8]))
			for _, e := range m.bkt[b] {
				if x&e.mask != e.pre {
					continue
				}
				k := &m.kws[e.ki]
				if e.long && (i+len(k.s) > n || !hasPrefixFold(s[i+8:], k.s[8:])) {
					continue
				}
				m.hit(s, i, k, fn)
			}
			continue
		}
		c2 := -2 // matches no keyword's third byte
		if i+2 < n {
			c2 = int(lower(s[i+2]))
		}
		for _, e := range m.bkt[b] {
			k := &m.kws[e.ki]
			if k.c2 >= 0 && k.c2 != c2 || i+len(k.s) > n || !hasPrefixFold(s[i:], k.s) {
				continue
			}
			m.hit(s, i, k, fn)
		}
	}
}

// hit reports k found at i unless a word boundary it needs is missing.
func (m *matcher) hit(s string, i int, k *kw, fn func(h kwHit)) {
	n := len(s)
	if k.wordL && i > 0 && isAlnum(s[i-1]) {
		return
	}
	e := i + len(k.s)
	if k.wordR && e < n && isAlnum(s[e]) {
		return
	}
	fn(kwHit{start: i, end: e, id: k.id, weight: k.weight, set: k.set})
}

// load64 reads the eight bytes of s as a little-endian word.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// lower8 lowers the ASCII capitals among the eight bytes of w and leaves
// every other byte, those of 0x80 and above included, as it is.
func lower8(w uint64) uint64 {
	const ones = 0x0101010101010101
	t := w &^ (0x80 * ones)             // low seven bits of each byte
	ge := t + (0x80-'A')*ones           // high bit: t >= 'A'
	gt := t + (0x80-'Z'-1)*ones         // high bit: t > 'Z'
	up := ge &^ gt &^ w & (0x80 * ones) // 'A'..'Z' with the high bit clear
	return w | up>>2
}

// mergeMatchers finds the keywords of a (set 0) and b (set 1) in one pass.
// Hits of each set come in the same order as from its own matcher: every
// bucket keeps a's keywords first, each list in its own order.
func mergeMatchers(a, b *matcher) *matcher {
	list := make([]kw, 0, len(a.kws)+len(b.kws))
	list = append(list, a.kws...)
	for _, k := range b.kws {
		k.set = 1
		list = append(list, k)
	}
	return newMatcher(list)
}

// hasPrefixFold reports whether s starts with the lowercase p, folding ASCII.
func hasPrefixFold(s, p string) bool {
	for j := 0; j < len(p); j++ {
		if lower(s[j]) != p[j] {
			return false
		}
	}
	return true
}

func kwList(id int, weight float64, words ...string) []kw {
	out := make([]kw, len(words))
	for i, w := range words {
		out[i] = kw{s: w, id: id, weight: weight}
	}
	return out
}

// contextWords raise the score of a candidate of their type nearby.
// rawMatcher finds context words (set 0) and cue words (set 1) in one pass.
var rawMatcher = mergeMatchers(contextMatcher, cueMatcher)

var contextMatcher = newMatcher(concat(
	kwList(tEmail, 0, "email", "e-mail", "mail", "邮箱", "电邮", "郵箱", "電郵", "信箱", "邮件"),
	kwList(tPhone, 0, "phone", "mobile", "tel", "telephone", "call", "fax", "desk", "office", "cell", "whatsapp",
		"contact", "answering", "messages to", "number", "电话", "手机", "致电", "联系", "聯繫", "聯絡", "联络", "電話",
		"手機", "热线", "座机", "传真", "请洽", "請洽", "拨打", "电", "洽", "mob"),
	kwList(tCNID, 0, "身份证", "身份證", "证件号", "公民身份", "id card", "identity"),
	kwList(tBankCard, 0, "card", "credit", "debit", "visa", "mastercard", "amex", "cc", "银行卡", "信用卡", "卡号", "储蓄卡", "借记卡", "账号", "帐号", "account"),
	kwList(tIBAN, 0, "iban", "bank", "transfer", "account"),
	kwList(tIP, 0, "ip", "address", "server", "host", "client", "地址", "服务器"),
	kwList(tPassport, 0, "passport", "护照", "護照", "通行证", "travel document"),
	kwList(tUSSSN, 0, "ssn", "social security", "社会安全号"),
	kwList(tAddress, 0, "地址", "住址", "居住", "住在", "位于", "家住", "现居", "寄到", "收货", "address", "live at", "lives at"),
	kwList(tPerson, 0, "姓名", "名字", "我叫", "先生", "女士", "小姐", "name"),
))

func concat(ls ...[]kw) []kw {
	var out []kw
	for _, l := range ls {
		out = append(out, l...)
	}
	return out
}
