package guard

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

// trig marks the bytes at which a structured recogniser may start; all
// other bytes are skipped without further work.
var trig = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for _, c := range "+(@:-_" {
		t[c] = true
	}
	t[0xEF] = true // full-width forms (digits)
	return
}()

func (sc *scanState) run() {
	t := sc.text
	cues := sc.s.enabled[tPerson] || sc.s.enabled[tAddress]
	if cues {
		// context and cue words in one pass; the cue hits wait for the end
		sc.s.rawKW.find(t, func(h kwHit) {
			if h.set == 0 {
				sc.ctx = append(sc.ctx, h)
			} else {
				sc.cueHits = append(sc.cueHits, h)
			}
		})
	} else {
		sc.s.contextKW.find(t, func(h kwHit) { sc.ctx = append(sc.ctx, h) })
	}
	n := len(t)
	for i := 0; i < n; {
		for i < n && !trig[t[i]] {
			i++
		}
		if i >= n {
			break
		}
		c := t[i]
		switch {
		case isDigit(c) || c == '+' || c == '(' || c == 0xEF:
			i = sc.digits(i)
		case c == '@':
			sc.email(i)
			i++
		case c == ':':
			i = sc.colon(i)
		case c == '-':
			i = sc.dash(i)
		case c == '_':
			sc.underscore(i)
			i++
		default: // 'A'..'Z'
			i = sc.upper(i)
		}
	}
	if cues {
		sc.cues()
	}
}

// digitAt decodes an ASCII or full-width digit at p.
func digitAt(t string, p int) (byte, int) {
	if p < len(t) {
		if isDigit(t[p]) {
			return t[p], 1
		}
		if t[p] == 0xEF && p+2 < len(t) && t[p+1] == 0xBC && t[p+2] >= 0x90 && t[p+2] <= 0x99 {
			return '0' + t[p+2] - 0x90, 3
		}
	}
	return 0, 0
}

func skipAlnum(t string, p int) int {
	for p < len(t) && (isAlnum(t[p]) || t[p] == '_') {
		p++
	}
	return p
}

const maxRunDigits = 40

type group struct {
	ds, de int  // digit index range
	bs, be int  // byte range, including a wrapping parenthesis
	sep    byte // separator before this group (0 for the first)
	paren  bool
}

type digitRun struct {
	d      [maxRunDigits]byte
	nd     int
	g      [12]group
	ng     int
	plus   bool
	start  int
	extEnd int // end of an "x123" extension after the run, or -1
	xSuf   bool
}

// digits parses a run of digit groups starting at i and emits candidates.
func (sc *scanState) digits(i int) int {
	t := sc.text
	n := len(t)
	if i > 0 && (isAlnum(t[i-1]) || t[i-1] == '_') {
		return skipAlnum(t, i+1)
	}
	var r digitRun
	r.start, r.extEnd = i, -1
	p := i
	paren := false
	switch t[p] {
	case '+':
		if _, w := digitAt(t, p+1); w == 0 {
			return i + 1
		}
		r.plus = true
		p++
	case '(':
		if _, w := digitAt(t, p+1); w == 0 {
			return i + 1
		}
		paren = true
		p++
	default:
		if _, w := digitAt(t, p); w == 0 {
			return i + 1
		}
	}
	var sep byte
	gstart := i
	if r.plus {
		gstart = p
	}
	overflow := false
	for {
		g := group{ds: r.nd, bs: gstart, sep: sep, paren: paren}
		for {
			v, w := digitAt(t, p)
			if w == 0 {
				break
			}
			if r.nd < maxRunDigits {
				r.d[r.nd] = v
				r.nd++
			} else {
				overflow = true
			}
			p += w
		}
		g.de, g.be = r.nd, p
		closed := false
		if paren {
			if p < n && t[p] == ')' {
				p++
				g.be = p
				paren = false
				closed = true
			} else {
				g.paren = false
				g.bs++
				paren = false
			}
		}
		if r.ng < len(r.g) {
			r.g[r.ng] = g
			r.ng++
		} else {
			overflow = true
		}
		// separator?
		if p >= n {
			break
		}
		q, s := p, byte(0)
		switch t[q] {
		case ' ', '-', '.':
			s = t[q]
			q++
		}
		if q < n && t[q] == '(' {
			if _, w := digitAt(t, q+1); w > 0 {
				if s == 0 {
					s = '('
				}
				gstart = q
				paren = true
				sep = s
				p = q + 1
				continue
			}
		}
		if _, w := digitAt(t, q); w > 0 && (s != 0 || closed) {
			if s == 0 {
				s = '('
			}
			sep = s
			gstart = q
			p = q
			continue
		}
		if s == 0 && q < n && t[q] == ' ' {
			break
		}
		break
	}
	if overflow {
		return skipAlnum(t, p)
	}
	if p < n && isAlpha(t[p]) {
		switch {
		case (t[p] == 'X' || t[p] == 'x') && r.nd == 17 && (p+1 >= n || !isAlnum(t[p+1])):
			r.d[r.nd] = 'X'
			r.nd++
			r.g[r.ng-1].de++
			r.g[r.ng-1].be++
			r.xSuf = true
			p++
		case t[p] == 'x' && p+1 < n && isDigit(t[p+1]):
			q := p + 1
			for q < n && isDigit(t[q]) && q-p <= 6 {
				q++
			}
			if q < n && isAlnum(t[q]) {
				return skipAlnum(t, q)
			}
			r.extEnd = q
			p = q
		default:
			return skipAlnum(t, p)
		}
	}
	sc.classifyRun(&r)
	if p <= i {
		p = i + 1
	}
	return p
}

// sepMask bits.
const (
	sepSpace = 1 << iota
	sepDash
	sepDot
	sepParen
)

func (r *digitRun) seps(a, b int) int {
	m := 0
	for k := a; k < b; k++ {
		g := r.g[k]
		if g.paren {
			m |= sepParen
		}
		if k == a {
			continue
		}
		switch g.sep {
		case ' ':
			m |= sepSpace
		case '-':
			m |= sepDash
		case '.':
			m |= sepDot
		case '(':
			m |= sepParen
		}
	}
	return m
}

func (sc *scanState) classifyRun(r *digitRun) {
	if sc.classifyRange(r, 0, r.ng, true) || r.ng < 2 || r.ng > 8 {
		return
	}
	for a := 0; a < r.ng; a++ {
		for b := a + 1; b <= r.ng; b++ {
			if a == 0 && b == r.ng {
				continue
			}
			sc.classifyRange(r, a, b, false)
		}
	}
}

func isMobileCN(d []byte) bool {
	return len(d) == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9'
}

// classifyRange emits candidates for groups [a,b) of r; it reports whether
// a strong (validated) candidate was found.
func (sc *scanState) classifyRange(r *digitRun, a, b int, whole bool) bool {
	d := r.d[r.g[a].ds:r.g[b-1].de]
	L := len(d)
	bs, be := r.g[a].bs, r.g[b-1].be
	plus := r.plus && a == 0
	if plus {
		bs = r.start
	}
	m := r.seps(a, b)
	digitsOnly := !plus && m&(sepDot|sepParen) == 0
	// IPv4
	if m == sepDot && b-a == 4 && !plus {
		ok := true
		for k := a; k < b; k++ {
			g := r.g[k]
			if g.de-g.ds > 3 || g.de == g.ds {
				ok = false
				break
			}
			v := 0
			for _, c := range r.d[g.ds:g.de] {
				v = v*10 + int(c-'0')
			}
			if v > 255 || (g.de-g.ds > 1 && r.d[g.ds] == '0') {
				ok = false
			}
		}
		if ok {
			sc.add(tIP, bs, be, 0.8, 0.15)
			return true
		}
	}
	strong := false
	if digitsOnly && L == 18 && (d[17] != 'X' || (whole && r.xSuf)) && cnIDShape(d) {
		if cnIDChecksum(d) {
			sc.add(tCNID, bs, be, 0.95, 0.05)
			strong = true
		} else {
			sc.add(tCNID, bs, be, 0.3, 0.1)
		}
	}
	if L > 0 && d[L-1] == 'X' {
		return strong
	}
	if isMobileCN(d) && digitsOnly {
		sc.add(tPhone, bs, be, 0.85, 0.1)
		strong = true
	}
	if L == 13 && d[0] == '8' && d[1] == '6' && isMobileCN(d[2:]) && m&sepDot == 0 {
		sc.add(tPhone, bs, be, 0.9, 0.1)
		strong = true
	}
	if digitsOnly && L >= 13 && L <= 19 && luhn(d) {
		sc.add(tBankCard, bs, be, 0.7, 0.25)
		strong = true
	}
	if !whole {
		return strong
	}
	// weaker formats, only on the whole run
	end := be
	if r.extEnd > 0 {
		end = r.extEnd
	}
	if L == 9 && !plus {
		if ssnValid(d) {
			switch {
			case b-a == 3 && m == sepDash && r.g[0].de == 3 && r.g[1].de == 5:
				sc.add(tUSSSN, bs, be, 0.6, 0.35)
			case b-a == 1:
				sc.add(tUSSSN, bs, be, 0.1, 0.45)
			}
		}
	}
	switch {
	case strong:
	case plus && L >= 8 && L <= 15:
		sc.add(tPhone, bs, end, 0.7, 0.25)
	case isNANP(r, a, b, m):
		sc.add(tPhone, bs, end, 0.55, 0.35)
	case d[0] == '0' && L >= 10 && L <= 12 && m&(sepDash|sepParen) != 0 && !plus:
		sc.add(tPhone, bs, end, 0.6, 0.3) // CN landline with area code
	case L == 10 && d[0] == '0' && d[1] == '9' && m == 0:
		sc.add(tPhone, bs, end, 0.5, 0.4) // TW mobile
	case L >= 7 && L <= 15 && (m&sepDot == 0 || b-a >= 3):
		sc.add(tPhone, bs, end, 0.25, 0.45)
	}
	return strong
}

// isNANP: [1|001] ddd ddd dddd with separators or (ddd) ddd-dddd.
func isNANP(r *digitRun, a, b, m int) bool {
	if m == 0 {
		return false
	}
	k := a
	lens := make([]int, 0, 5)
	for ; k < b; k++ {
		lens = append(lens, r.g[k].de-r.g[k].ds)
	}
	if len(lens) == 4 && (lens[0] == 1 || lens[0] == 3) {
		lens = lens[1:]
	}
	return len(lens) == 3 && lens[0] == 3 && lens[1] == 3 && lens[2] == 4
}

func isLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func (sc *scanState) email(at int) {
	t := sc.text
	s := at
	for s > 0 && at-s < 64 && isLocal(t[s-1]) {
		s--
	}
	if s == at || (s > 0 && isLocal(t[s-1])) {
		return
	}
	for s < at && (t[s] == '.' || t[s] == '-' || t[s] == '+') {
		s++
	}
	if s == at {
		return
	}
	e := at + 1
	lastDot := -1
	for e < len(t) && e-at < 255 && (isAlnum(t[e]) || t[e] == '.' || t[e] == '-') {
		if t[e] == '.' {
			lastDot = e
		}
		e++
	}
	for e > at+1 && (t[e-1] == '.' || t[e-1] == '-') {
		e--
	}
	lastDot = strings.LastIndexByte(t[at+1:e], '.')
	if lastDot <= 0 {
		return
	}
	tld := t[at+1+lastDot+1 : e]
	if len(tld) < 2 {
		return
	}
	for k := 0; k < len(tld); k++ {
		if !isAlpha(tld[k]) {
			return
		}
	}
	sc.add(tEmail, s, e, 0.95, 0.05)
}

func isHex(c byte) bool { return isDigit(c) || ('a' <= c|0x20 && c|0x20 <= 'f') }

func (sc *scanState) colon(i int) int {
	t := sc.text
	n := len(t)
	if i+2 < n && t[i+1] == '/' && t[i+2] == '/' {
		return sc.urlCred(i)
	}
	// IPv6: expand over hex digits, ':' and '.'
	s := i
	for s > 0 && i-s < 45 && (isHex(t[s-1]) || t[s-1] == ':' || t[s-1] == '.') {
		s--
	}
	e := i + 1
	for e < n && e-s < 46 && (isHex(t[e]) || t[e] == ':' || t[e] == '.') {
		e++
	}
	for e > i+1 && t[e-1] == '.' {
		e--
	}
	if (s > 0 && (isAlnum(t[s-1]) || t[s-1] == '_')) || (e < n && (isAlnum(t[e]) || t[e] == '_')) {
		return e
	}
	// An IPv6 address written with hex digits, ':' and '.' has a "::" or
	// at least six colons (seven groups, or six and a dotted quad); the
	// test spares ParseAddr (and its error) on times such as 14:03:22.
	if nc := strings.Count(t[s:e], ":"); sc.s.enabled[tIP] && nc >= 2 && (nc >= 6 || strings.Contains(t[s:e], "::")) {
		hex := 0
		for k := s; k < e; k++ {
			if isHex(t[k]) {
				hex++
			}
		}
		if a, err := netip.ParseAddr(t[s:e]); err == nil && a.Is6() && hex >= 4 {
			sc.add(tIP, s, e, 0.85, 0.1)
		}
	}
	if e <= i {
		e = i + 1
	}
	return e
}

// urlCred finds scheme://user:password@host at the "://" at i.
func (sc *scanState) urlCred(i int) int {
	t := sc.text
	n := len(t)
	s := i
	for s > 0 && i-s < 16 && (isAlnum(t[s-1]) || t[s-1] == '+' || t[s-1] == '.' || t[s-1] == '-') {
		s--
	}
	if s == i {
		return i + 3
	}
	p := i + 3
	colon, at := -1, -1
	for q := p; q < n && q-p < 256; q++ {
		c := t[q]
		if c == '@' {
			at = q
			break
		}
		if c == ':' && colon < 0 {
			colon = q
		}
		if c == '/' || c == ' ' || c == '\n' || c == '\t' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '?' || c == '#' {
			break
		}
	}
	if at < 0 || colon < 0 || colon > at || colon == p || at == colon+1 {
		return i + 3
	}
	e := at + 1
	for e < n && (isAlnum(t[e]) || t[e] == '.' || t[e] == '-' || t[e] == ':' || t[e] == '[' || t[e] == ']') {
		e++
	}
	if e == at+1 {
		return i + 3
	}
	sc.add(tURLCred, s, e, 0.95, 0)
	return e
}

func isTokenChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

func (sc *scanState) dash(i int) int {
	t := sc.text
	n := len(t)
	if strings.HasPrefix(t[i:], "-----BEGIN ") {
		hdrEnd := strings.Index(t[i+11:min(n, i+80)], "-----")
		if hdrEnd > 0 && strings.HasSuffix(t[i+11:i+11+hdrEnd], "PRIVATE KEY") {
			label := t[i+11 : i+11+hdrEnd]
			endMark := "-----END " + label + "-----"
			if j := strings.Index(t[i:min(n, i+16384)], endMark); j > 0 {
				sc.add(tSecret, i, i+j+len(endMark), 0.99, 0)
				return i + j + len(endMark)
			}
		}
		return i + 5
	}
	tokenStart := func(k int) bool { return k == 0 || !isTokenChar(t[k-1]) }
	var s int
	switch {
	case i >= 2 && t[i-2:i] == "sk" && tokenStart(i-2):
		s = i - 2
	case i >= 4 && (t[i-4:i] == "xoxb" || t[i-4:i] == "xoxp" || t[i-4:i] == "xoxa") && tokenStart(i-4):
		s = i - 4
	default:
		return i + 1
	}
	e := i + 1
	alnum := 0
	for e < n && isTokenChar(t[e]) {
		if isAlnum(t[e]) {
			alnum++
		}
		e++
	}
	if alnum >= 20 {
		sc.add(tSecret, s, e, 0.9, 0.05)
	}
	return e
}

func (sc *scanState) underscore(i int) {
	t := sc.text
	if i < 3 {
		return
	}
	p := t[i-3 : i]
	if p != "ghp" && p != "gho" && p != "ghu" && p != "ghs" && p != "ghr" {
		return
	}
	if i > 3 && isTokenChar(t[i-4]) {
		return
	}
	e := i + 1
	for e < len(t) && isAlnum(t[e]) {
		e++
	}
	if e-i-1 >= 30 && (e == len(t) || !isTokenChar(t[e])) {
		sc.add(tSecret, i-3, e, 0.95, 0)
	}
}

func isB64URL(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

func (sc *scanState) jwt(s int) int {
	t := sc.text
	e := s
	parts, plen := 0, 0
	for e < len(t) {
		if isB64URL(t[e]) {
			plen++
			e++
			continue
		}
		if t[e] == '.' && plen > 0 && parts < 2 && e+1 < len(t) && isB64URL(t[e+1]) {
			parts++
			plen = 0
			e++
			continue
		}
		break
	}
	if parts == 2 && e-s >= 30 {
		sc.add(tSecret, s, e, 0.95, 0)
	}
	return e
}

// plateProv are the PRC licence-plate province abbreviations.
const plateProv = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

func (sc *scanState) upper(i int) int {
	t := sc.text
	n := len(t)
	if t[i] == 'J' && i >= 2 && t[i-2:i] == "ey" && (i == 2 || !isB64URL(t[i-3])) {
		return sc.jwt(i - 2)
	}
	if i > 0 && (isAlnum(t[i-1]) || t[i-1] == '_') {
		return skipAlnum(t, i+1)
	}
	end := skipAlnum(t, i)
	tok := t[i:end]
	// AWS access key id
	if len(tok) == 20 && (strings.HasPrefix(tok, "AKIA") || strings.HasPrefix(tok, "ASIA")) {
		ok := true
		for k := 4; k < 20; k++ {
			if !isUpper(tok[k]) && !isDigit(tok[k]) {
				ok = false
			}
		}
		if ok {
			sc.add(tSecret, i, end, 0.95, 0)
			return end
		}
	}
	// IBAN, possibly in groups of four
	if i+3 < n && isUpper(t[i+1]) && isDigit(t[i+2]) && isDigit(t[i+3]) {
		if e := sc.iban(i); e > 0 {
			return e
		}
	}
	// PRC plate: province character before the letter
	if i >= 3 && sc.s.enabled[tPlate] {
		if r, w := utf8.DecodeLastRuneInString(t[:i]); w == 3 && strings.ContainsRune(plateProv, r) {
			e := i + 1
			if e < n && (t[e] == ' ' || t[e] == '-') {
				e++
			} else if strings.HasPrefix(t[e:], "·") {
				e += len("·")
			}
			k := e
			for k < n && (isUpper(t[k]) || isDigit(t[k])) && k-e < 7 {
				k++
			}
			if (k-e == 5 || k-e == 6) && (k == n || !isAlnum(t[k])) && !strings.ContainsAny(t[e:k], "IO") {
				sc.add(tPlate, i-3, k, 0.8, 0.1)
				return k
			}
		}
	}
	// passport: [A-Z]{1,2} + 7..8 digits, only with context
	if l := len(tok); l >= 8 && l <= 10 {
		letters := 1
		if isUpper(tok[1]) {
			letters = 2
		}
		dn := 0
		for k := letters; k < l && isDigit(tok[k]); k++ {
			dn++
		}
		if letters+dn == l && dn >= 7 && dn <= 8 {
			sc.add(tPassport, i, end, 0.2, 0.7)
		}
	}
	return end
}

func (sc *scanState) iban(i int) int {
	t := sc.text
	var buf [34]byte
	nb := 0
	e := i
	last := i
	for e < len(t) && nb < 34 {
		c := t[e]
		if isUpper(c) || isDigit(c) {
			buf[nb] = c
			nb++
			e++
			last = e
			continue
		}
		if c == ' ' && nb%4 == 0 && e+1 < len(t) && (isUpper(t[e+1]) || isDigit(t[e+1])) {
			e++
			continue
		}
		break
	}
	if last < len(t) && isAlnum(t[last]) {
		return 0
	}
	if ibanValid(buf[:nb]) {
		sc.add(tIBAN, i, last, 0.95, 0.05)
		return last
	}
	return 0
}
