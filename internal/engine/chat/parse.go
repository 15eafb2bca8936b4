package chat

import (
	"fmt"
	"strconv"
)

// AST of the supported Jinja subset.

type node interface{}

type (
	textNode struct{ text string }
	outNode  struct {
		e    expr
		line int
	}
	ifNode struct {
		conds  []expr
		bodies [][]node // len(bodies) == len(conds) or len(conds)+1 with else
	}
	forNode struct {
		targets []string
		iter    expr
		filter  expr
		body    []node
		els     []node
		line    int
	}
	setNode struct {
		targets []string // one name or a tuple of names
		attrOf  string   // set ns.attr = ...: attrOf is "ns", targets[0] is "attr"
		value   expr     // nil for a block set
		body    []node
		filters []*filterExpr // block set filters: {% set x | trim %}
		line    int
	}
	macroNode struct {
		name     string
		params   []string
		defaults []expr // aligned with params; nil when none
		body     []node
	}
	breakNode    struct{}
	continueNode struct{}
	callBlock    struct { // {% filter name %}...{% endfilter %}
		filter *filterExpr
		body   []node
	}
)

type expr interface{}

type (
	literal   struct{ v any }
	nameExpr  struct{ name string }
	listExpr  struct{ items []expr }
	tupleExpr struct{ items []expr }
	dictExpr  struct{ keys, vals []expr }
	attrExpr  struct {
		obj  expr
		name string
	}
	indexExpr struct{ obj, index expr }
	sliceExpr struct{ obj, lo, hi, step expr }
	callExpr  struct {
		fn     expr
		args   []expr
		kwName []string
		kwVal  []expr
		line   int
	}
	filterExpr struct {
		obj    expr // nil inside a block filter
		name   string
		args   []expr
		kwName []string
		kwVal  []expr
		line   int
	}
	testExpr struct {
		obj  expr
		name string
		args []expr
		neg  bool
		line int
	}
	unaryExpr struct {
		op string
		x  expr
	}
	binExpr struct {
		op   string
		l, r expr
		line int
	}
	condExpr struct{ cond, a, b expr } // a if cond else b (b may be nil)
)

type parser struct {
	toks []token
	pos  int
}

func parse(src string) ([]node, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	nodes, end, err := p.parseBody()
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, p.errf("unexpected {%% %s %%}", end)
	}
	return nodes, nil
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	line := 1
	if len(p.toks) > 0 {
		line = p.toks[len(p.toks)-1].line
	}
	return token{kind: tokEOF, line: line}
}

func (p *parser) next() token {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	}
	return t
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{Line: p.peek().line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) isOp(v string) bool {
	t := p.peek()
	return t.kind == tokOp && t.val == v
}

func (p *parser) isName(v string) bool {
	t := p.peek()
	return t.kind == tokName && t.val == v
}

func (p *parser) expectOp(v string) error {
	if !p.isOp(v) {
		return p.errf("expected %q, found %s", v, p.peek())
	}
	p.pos++
	return nil
}

func (p *parser) expectKind(k tokKind, what string) (token, error) {
	t := p.peek()
	if t.kind != k {
		return t, p.errf("expected %s, found %s", what, t)
	}
	p.pos++
	return t, nil
}

func (p *parser) expectName() (string, error) {
	t, err := p.expectKind(tokName, "a name")
	return t.val, err
}

// parseBody parses nodes until an end-like block tag ({% endfor %},
// {% else %} ...) or the end of the template; it returns the tag name,
// with the parser positioned after the tag name.
func (p *parser) parseBody() ([]node, string, error) {
	var out []node
	for {
		t := p.next()
		switch t.kind {
		case tokEOF:
			return out, "", nil
		case tokText:
			out = append(out, &textNode{t.val})
		case tokVarBegin:
			e, err := p.parseExpr()
			if err != nil {
				return nil, "", err
			}
			if _, err := p.expectKind(tokVarEnd, `"}}"`); err != nil {
				return nil, "", err
			}
			out = append(out, &outNode{e: e, line: t.line})
		case tokBlockBegin:
			name, err := p.expectName()
			if err != nil {
				return nil, "", err
			}
			switch name {
			case "endfor", "endif", "elif", "else", "endmacro", "endset", "endfilter", "endgeneration":
				return out, name, nil
			}
			n, err := p.parseStatement(name, t.line)
			if err != nil {
				return nil, "", err
			}
			if n != nil {
				out = append(out, n)
			}
		default:
			return nil, "", p.errf("unexpected %s", t)
		}
	}
}

func (p *parser) endTag() error {
	_, err := p.expectKind(tokBlockEnd, `"%}"`)
	return err
}

func (p *parser) parseStatement(name string, line int) (node, error) {
	switch name {
	case "if":
		return p.parseIf()
	case "for":
		return p.parseFor(line)
	case "set":
		return p.parseSet(line)
	case "macro":
		return p.parseMacro()
	case "break", "continue":
		if err := p.endTag(); err != nil {
			return nil, err
		}
		if name == "break" {
			return &breakNode{}, nil
		}
		return &continueNode{}, nil
	case "generation":
		// Hugging Face's AssistantTracker tag: renders its body unchanged.
		if err := p.endTag(); err != nil {
			return nil, err
		}
		body, end, err := p.parseBody()
		if err != nil {
			return nil, err
		}
		if end != "endgeneration" {
			return nil, p.errf("expected {%% endgeneration %%}, found %q", end)
		}
		if err := p.endTag(); err != nil {
			return nil, err
		}
		return &ifNode{conds: []expr{&literal{true}}, bodies: [][]node{body}}, nil
	case "filter":
		f, err := p.parseFilterCall(nil)
		if err != nil {
			return nil, err
		}
		if err := p.endTag(); err != nil {
			return nil, err
		}
		body, end, err := p.parseBody()
		if err != nil {
			return nil, err
		}
		if end != "endfilter" {
			return nil, p.errf("expected {%% endfilter %%}, found %q", end)
		}
		if err := p.endTag(); err != nil {
			return nil, err
		}
		return &callBlock{filter: f, body: body}, nil
	}
	return nil, &SyntaxError{Line: line, Msg: fmt.Sprintf("unsupported tag %q", name)}
}

func (p *parser) parseIf() (node, error) {
	n := &ifNode{}
	for {
		cond, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if err := p.endTag(); err != nil {
			return nil, err
		}
		body, end, err := p.parseBody()
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, cond)
		n.bodies = append(n.bodies, body)
		switch end {
		case "elif":
			continue
		case "else":
			if err := p.endTag(); err != nil {
				return nil, err
			}
			body, end, err := p.parseBody()
			if err != nil {
				return nil, err
			}
			if end != "endif" {
				return nil, p.errf("expected {%% endif %%}, found %q", end)
			}
			n.bodies = append(n.bodies, body)
			return n, p.endTag()
		case "endif":
			return n, p.endTag()
		default:
			return nil, p.errf("expected {%% endif %%}, found %q", end)
		}
	}
}

func (p *parser) parseFor(line int) (node, error) {
	n := &forNode{line: line}
	for {
		name, err := p.expectName()
		if err != nil {
			return nil, err
		}
		n.targets = append(n.targets, name)
		if !p.isOp(",") {
			break
		}
		p.pos++
	}
	if !p.isName("in") {
		return nil, p.errf("expected \"in\" in for loop, found %s", p.peek())
	}
	p.pos++
	iter, err := p.parseOr() // no conditional expression: "if" starts a filter
	if err != nil {
		return nil, err
	}
	n.iter = iter
	if p.isName("if") {
		p.pos++
		if n.filter, err = p.parseOr(); err != nil {
			return nil, err
		}
	}
	if p.isName("recursive") {
		return nil, p.errf("unsupported construct: recursive for loop")
	}
	if err := p.endTag(); err != nil {
		return nil, err
	}
	body, end, err := p.parseBody()
	if err != nil {
		return nil, err
	}
	n.body = body
	if end == "else" {
		if err := p.endTag(); err != nil {
			return nil, err
		}
		if n.els, end, err = p.parseBody(); err != nil {
			return nil, err
		}
	}
	if end != "endfor" {
		return nil, p.errf("expected {%% endfor %%}, found %q", end)
	}
	return n, p.endTag()
}

func (p *parser) parseSet(line int) (node, error) {
	n := &setNode{line: line}
	name, err := p.expectName()
	if err != nil {
		return nil, err
	}
	if p.isOp(".") {
		p.pos++
		attr, err := p.expectName()
		if err != nil {
			return nil, err
		}
		n.attrOf, n.targets = name, []string{attr}
	} else {
		n.targets = []string{name}
		for p.isOp(",") {
			p.pos++
			name, err := p.expectName()
			if err != nil {
				return nil, err
			}
			n.targets = append(n.targets, name)
		}
	}
	if p.isOp("=") {
		p.pos++
		v, err := p.parseTuple()
		if err != nil {
			return nil, err
		}
		n.value = v
		return n, p.endTag()
	}
	// Block set: {% set x %}...{% endset %}, optionally with filters.
	if n.attrOf != "" || len(n.targets) != 1 {
		return nil, p.errf("expected \"=\" in set")
	}
	for p.isOp("|") {
		p.pos++
		f, err := p.parseFilterCall(nil)
		if err != nil {
			return nil, err
		}
		n.filters = append(n.filters, f)
	}
	if err := p.endTag(); err != nil {
		return nil, err
	}
	body, end, err := p.parseBody()
	if err != nil {
		return nil, err
	}
	if end != "endset" {
		return nil, p.errf("expected {%% endset %%}, found %q", end)
	}
	n.body = body
	return n, p.endTag()
}

func (p *parser) parseMacro() (node, error) {
	n := &macroNode{}
	var err error
	if n.name, err = p.expectName(); err != nil {
		return nil, err
	}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	for !p.isOp(")") {
		name, err := p.expectName()
		if err != nil {
			return nil, err
		}
		var def expr
		if p.isOp("=") {
			p.pos++
			if def, err = p.parseExpr(); err != nil {
				return nil, err
			}
		}
		n.params = append(n.params, name)
		n.defaults = append(n.defaults, def)
		if !p.isOp(",") {
			break
		}
		p.pos++
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	if err := p.endTag(); err != nil {
		return nil, err
	}
	body, end, err := p.parseBody()
	if err != nil {
		return nil, err
	}
	if end != "endmacro" {
		return nil, p.errf("expected {%% endmacro %%}, found %q", end)
	}
	n.body = body
	return n, p.endTag()
}

// Expressions, by Jinja2's precedence: conditional, or, and, not,
// comparisons, + -, ~, * / // %, **, unary -, then primaries with
// postfix . [] () and | filter / is test.

// parseTuple parses an expression or an unparenthesised tuple (a, b).
func (p *parser) parseTuple() (expr, error) {
	e, err := p.parseExpr()
	if err != nil || !p.isOp(",") {
		return e, err
	}
	items := []expr{e}
	for p.isOp(",") {
		p.pos++
		if p.peek().kind == tokBlockEnd || p.peek().kind == tokVarEnd {
			break
		}
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	return &tupleExpr{items}, nil
}

func (p *parser) parseExpr() (expr, error) {
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for p.isName("if") {
		p.pos++
		cond, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		var alt expr
		if p.isName("else") {
			p.pos++
			if alt, err = p.parseOr(); err != nil {
				return nil, err
			}
		}
		e = &condExpr{cond: cond, a: e, b: alt}
	}
	return e, nil
}

func (p *parser) parseOr() (expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isName("or") {
		p.pos++
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: "or", l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseAnd() (expr, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.isName("and") {
		p.pos++
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: "and", l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseNot() (expr, error) {
	if p.isName("not") {
		p.pos++
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: "not", x: x}, nil
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() (expr, error) {
	first, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	var result expr // the comparisons so far, joined by "and"
	left := first
	for {
		t := p.peek()
		var op string
		switch {
		case t.kind == tokOp && (t.val == "==" || t.val == "!=" || t.val == "<" || t.val == "<=" || t.val == ">" || t.val == ">="):
			op = t.val
			p.pos++
		case t.kind == tokName && t.val == "in":
			op = "in"
			p.pos++
		case t.kind == tokName && t.val == "not" && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == tokName && p.toks[p.pos+1].val == "in":
			op = "not in"
			p.pos += 2
		default:
			if result == nil {
				return first, nil
			}
			return result, nil
		}
		right, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		// Python chains comparisons: a < b < c means a < b and b < c.
		cmp := &binExpr{op: op, l: left, r: right, line: t.line}
		if result == nil {
			result = cmp
		} else {
			result = &binExpr{op: "and", l: result, r: cmp, line: t.line}
		}
		left = right
	}
}

func isComparison(op string) bool {
	switch op {
	case "==", "!=", "<", "<=", ">", ">=", "in", "not in":
		return true
	}
	return false
}

func (p *parser) parseMath1() (expr, error) {
	l, err := p.parseConcat()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		t := p.next()
		r, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: t.val, l: l, r: r, line: t.line}
	}
	return l, nil
}

func (p *parser) parseConcat() (expr, error) {
	l, err := p.parseMath2()
	if err != nil {
		return nil, err
	}
	for p.isOp("~") {
		t := p.next()
		r, err := p.parseMath2()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: "~", l: l, r: r, line: t.line}
	}
	return l, nil
}

func (p *parser) parseMath2() (expr, error) {
	l, err := p.parsePow()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") {
		t := p.next()
		r, err := p.parsePow()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: t.val, l: l, r: r, line: t.line}
	}
	return l, nil
}

func (p *parser) parsePow() (expr, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.isOp("**") {
		t := p.next()
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: "**", l: l, r: r, line: t.line}
	}
	return l, nil
}

func (p *parser) parseUnary() (expr, error) {
	if p.isOp("-") || p.isOp("+") {
		t := p.next()
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: t.val, x: x}, nil
	}
	e, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	return p.parsePostfix(e)
}

func (p *parser) parsePrimary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tokString:
		s := t.val
		for p.peek().kind == tokString { // adjacent literals concatenate
			s += p.next().val
		}
		return &literal{s}, nil
	case tokInt:
		v, err := strconv.ParseInt(t.val, 10, 64)
		if err != nil {
			return nil, &SyntaxError{Line: t.line, Msg: fmt.Sprintf("bad integer %q", t.val)}
		}
		return &literal{v}, nil
	case tokFloat:
		v, err := strconv.ParseFloat(t.val, 64)
		if err != nil {
			return nil, &SyntaxError{Line: t.line, Msg: fmt.Sprintf("bad number %q", t.val)}
		}
		return &literal{v}, nil
	case tokName:
		switch t.val {
		case "true", "True":
			return &literal{true}, nil
		case "false", "False":
			return &literal{false}, nil
		case "none", "None":
			return &literal{nil}, nil
		}
		return &nameExpr{t.val}, nil
	case tokOp:
		switch t.val {
		case "(":
			if p.isOp(")") {
				p.pos++
				return &tupleExpr{}, nil
			}
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if p.isOp(",") {
				items := []expr{e}
				for p.isOp(",") {
					p.pos++
					if p.isOp(")") {
						break
					}
					e, err := p.parseExpr()
					if err != nil {
						return nil, err
					}
					items = append(items, e)
				}
				e = &tupleExpr{items}
			}
			return e, p.expectOp(")")
		case "[":
			var items []expr
			for !p.isOp("]") {
				e, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				items = append(items, e)
				if !p.isOp(",") {
					break
				}
				p.pos++
			}
			return &listExpr{items}, p.expectOp("]")
		case "{":
			d := &dictExpr{}
			for !p.isOp("}") {
				k, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				d.keys, d.vals = append(d.keys, k), append(d.vals, v)
				if !p.isOp(",") {
					break
				}
				p.pos++
			}
			return d, p.expectOp("}")
		}
	}
	p.pos--
	return nil, p.errf("unexpected %s in expression", t)
}

func (p *parser) parsePostfix(e expr) (expr, error) {
	for {
		t := p.peek()
		switch {
		case t.kind == tokOp && t.val == ".":
			p.pos++
			nt := p.next()
			switch nt.kind {
			case tokName:
				e = &attrExpr{obj: e, name: nt.val}
			case tokInt:
				v, _ := strconv.ParseInt(nt.val, 10, 64)
				e = &indexExpr{obj: e, index: &literal{v}}
			default:
				p.pos--
				return nil, p.errf("expected attribute name after \".\", found %s", nt)
			}
		case t.kind == tokOp && t.val == "[":
			p.pos++
			var parts [3]expr
			idx, colons := 0, 0
			for !p.isOp("]") {
				if p.isOp(":") {
					p.pos++
					colons++
					idx++
					if idx > 2 {
						return nil, p.errf("bad slice")
					}
					continue
				}
				if parts[idx] != nil {
					return nil, p.errf("expected \"]\", found %s", p.peek())
				}
				x, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				parts[idx] = x
			}
			if err := p.expectOp("]"); err != nil {
				return nil, err
			}
			if colons == 0 {
				if parts[0] == nil {
					return nil, p.errf("empty subscript")
				}
				e = &indexExpr{obj: e, index: parts[0]}
			} else {
				e = &sliceExpr{obj: e, lo: parts[0], hi: parts[1], step: parts[2]}
			}
		case t.kind == tokOp && t.val == "(":
			p.pos++
			c := &callExpr{fn: e, line: t.line}
			if err := p.parseArgs(&c.args, &c.kwName, &c.kwVal); err != nil {
				return nil, err
			}
			e = c
		case t.kind == tokOp && t.val == "|":
			p.pos++
			f, err := p.parseFilterCall(e)
			if err != nil {
				return nil, err
			}
			e = f
		case t.kind == tokName && t.val == "is":
			p.pos++
			te := &testExpr{obj: e, line: t.line}
			if p.isName("not") {
				p.pos++
				te.neg = true
			}
			nt := p.next()
			switch {
			case nt.kind == tokName:
				te.name = nt.val
			case nt.kind == tokOp && (nt.val == "==" || nt.val == "!=" || nt.val == "<" || nt.val == ">" || nt.val == "<=" || nt.val == ">="):
				te.name = nt.val
			default:
				p.pos--
				return nil, p.errf("expected test name after \"is\", found %s", nt)
			}
			if _, ok := tests[te.name]; !ok && te.name != "none" && te.name != "true" && te.name != "false" {
				return nil, &SyntaxError{Line: nt.line, Msg: fmt.Sprintf("unsupported test %q", te.name)}
			}
			if p.isOp("(") {
				p.pos++
				var kn []string
				var kv []expr
				if err := p.parseArgs(&te.args, &kn, &kv); err != nil {
					return nil, err
				}
			} else if pt := p.peek(); pt.kind == tokString || pt.kind == tokInt || pt.kind == tokFloat ||
				(pt.kind == tokName && !isKeyword(pt.val)) {
				// "is divisibleby 3", "is sameas none": one bare argument.
				arg, err := p.parsePrimary()
				if err != nil {
					return nil, err
				}
				te.args = []expr{arg}
			}
			e = te
		default:
			return e, nil
		}
	}
}

func isKeyword(s string) bool {
	switch s {
	case "and", "or", "not", "in", "is", "if", "else", "recursive":
		return true
	}
	return false
}

func (p *parser) parseFilterCall(obj expr) (*filterExpr, error) {
	t := p.peek()
	name, err := p.expectName()
	if err != nil {
		return nil, err
	}
	for p.isOp(".") { // dotted filter names are not supported, but parse them for the error
		p.pos++
		n2, err := p.expectName()
		if err != nil {
			return nil, err
		}
		name += "." + n2
	}
	if _, ok := filters[name]; !ok {
		return nil, &SyntaxError{Line: t.line, Msg: fmt.Sprintf("unsupported filter %q", name)}
	}
	f := &filterExpr{obj: obj, name: name, line: t.line}
	if p.isOp("(") {
		p.pos++
		if err := p.parseArgs(&f.args, &f.kwName, &f.kwVal); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// parseArgs parses call arguments after "(" up to and including ")".
func (p *parser) parseArgs(args *[]expr, kwName *[]string, kwVal *[]expr) error {
	for !p.isOp(")") {
		if t := p.peek(); t.kind == tokName && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == tokOp && p.toks[p.pos+1].val == "=" {
			p.pos += 2
			v, err := p.parseExpr()
			if err != nil {
				return err
			}
			*kwName = append(*kwName, t.val)
			*kwVal = append(*kwVal, v)
		} else {
			if len(*kwName) > 0 {
				return p.errf("positional argument after keyword argument")
			}
			v, err := p.parseExpr()
			if err != nil {
				return err
			}
			*args = append(*args, v)
		}
		if !p.isOp(",") {
			break
		}
		p.pos++
	}
	return p.expectOp(")")
}
