package chat

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// RenderError is a failure while rendering a parsed template: a type error,
// an unsupported method, or a limit reached.
type RenderError struct {
	Line int
	Msg  string
}

func (e *RenderError) Error() string { return fmt.Sprintf("chat template line %d: %s", e.Line, e.Msg) }

// TemplateError is raised by the template itself through raise_exception,
// typically for a conversation it does not accept (roles out of order, a
// system message where none is allowed). Callers usually report it as an
// invalid request.
type TemplateError struct{ Msg string }

func (e *TemplateError) Error() string { return "chat template: " + e.Msg }

var (
	errBreak    = errors.New("break")
	errContinue = errors.New("continue")
)

type renderer struct {
	out      *strings.Builder
	scopes   []map[string]any
	globals  map[string]any
	steps    int
	maxSteps int
	maxOut   int
	depth    int
	line     int
	now      func() time.Time
}

func (r *renderer) errf(format string, args ...any) error {
	return &RenderError{Line: r.line, Msg: fmt.Sprintf(format, args...)}
}

func (r *renderer) step() error {
	r.steps++
	if r.steps > r.maxSteps {
		return r.errf("template ran more than %d steps", r.maxSteps)
	}
	return nil
}

// cost charges work proportional to n bytes copied, so that loops that
// build large strings or lists run into the step bound.
func (r *renderer) cost(n int) error {
	r.steps += n / 256
	return r.step()
}

func (r *renderer) write(s string) error {
	if r.out.Len()+len(s) > r.maxOut {
		return r.errf("output longer than %d bytes", r.maxOut)
	}
	r.out.WriteString(s)
	return nil
}

func (r *renderer) lookup(name string) any {
	for i := len(r.scopes) - 1; i >= 0; i-- {
		if v, ok := r.scopes[i][name]; ok {
			return v
		}
	}
	if v, ok := r.globals[name]; ok {
		return v
	}
	return undefined{name}
}

func (r *renderer) assign(name string, v any) { r.scopes[len(r.scopes)-1][name] = v }

func (r *renderer) execAll(nodes []node) error {
	for _, n := range nodes {
		if err := r.exec(n); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) exec(n node) error {
	if err := r.step(); err != nil {
		return err
	}
	switch n := n.(type) {
	case *textNode:
		return r.write(n.text)
	case *outNode:
		r.line = n.line
		v, err := r.eval(n.e)
		if err != nil {
			return err
		}
		return r.write(str(v))
	case *ifNode:
		for i, c := range n.conds {
			v, err := r.eval(c)
			if err != nil {
				return err
			}
			if truthy(v) {
				return r.execAll(n.bodies[i])
			}
		}
		if len(n.bodies) > len(n.conds) {
			return r.execAll(n.bodies[len(n.conds)])
		}
		return nil
	case *forNode:
		return r.execFor(n)
	case *setNode:
		return r.execSet(n)
	case *macroNode:
		r.assign(n.name, r.makeMacro(n))
		return nil
	case *breakNode:
		return errBreak
	case *continueNode:
		return errContinue
	case *callBlock:
		s, err := r.capture(n.body)
		if err != nil {
			return err
		}
		v, err := r.applyFilter(n.filter, s)
		if err != nil {
			return err
		}
		return r.write(str(v))
	}
	return r.errf("internal error: unknown node %T", n)
}

func (r *renderer) capture(body []node) (string, error) {
	saved := r.out
	var b strings.Builder
	r.out = &b
	err := r.execAll(body)
	r.out = saved
	if err != nil {
		return "", err
	}
	if err := r.cost(b.Len()); err != nil {
		return "", err
	}
	if saved.Len()+b.Len() > r.maxOut {
		return "", r.errf("output longer than %d bytes", r.maxOut)
	}
	return b.String(), nil
}

func iterate(v any) ([]any, bool) {
	switch x := v.(type) {
	case *List:
		return x.items, true
	case *Dict:
		out := make([]any, len(x.keys))
		for i, k := range x.keys {
			out[i] = k
		}
		return out, true
	case string:
		var out []any
		for _, c := range x {
			out = append(out, string(c))
		}
		return out, true
	case undefined:
		return nil, true
	}
	return nil, false // None and scalars are not iterable
}

func (r *renderer) execFor(n *forNode) error {
	r.line = n.line
	seq, err := r.eval(n.iter)
	if err != nil {
		return err
	}
	items, ok := iterate(seq)
	if !ok {
		return r.errf("cannot loop over %s", typeName(seq))
	}
	items = append([]any(nil), items...) // the body may append to the list
	bind := func(scope map[string]any, item any) error {
		if len(n.targets) == 1 {
			scope[n.targets[0]] = item
			return nil
		}
		parts, ok := item.(*List)
		if !ok || len(parts.items) != len(n.targets) {
			return r.errf("cannot unpack %s into %d names", typeName(item), len(n.targets))
		}
		for i, t := range n.targets {
			scope[t] = parts.items[i]
		}
		return nil
	}
	if n.filter != nil {
		var kept []any
		for _, it := range items {
			if err := r.step(); err != nil {
				return err
			}
			scope := map[string]any{}
			if err := bind(scope, it); err != nil {
				return err
			}
			r.scopes = append(r.scopes, scope)
			v, err := r.eval(n.filter)
			r.scopes = r.scopes[:len(r.scopes)-1]
			if err != nil {
				return err
			}
			if truthy(v) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	if len(items) == 0 {
		return r.execAll(n.els)
	}
	for i, it := range items {
		if err := r.step(); err != nil {
			return err
		}
		loop := newDict()
		loop.set("index", int64(i+1))
		loop.set("index0", int64(i))
		loop.set("revindex", int64(len(items)-i))
		loop.set("revindex0", int64(len(items)-i-1))
		loop.set("first", i == 0)
		loop.set("last", i == len(items)-1)
		loop.set("length", int64(len(items)))
		loop.set("depth", int64(1))
		loop.set("depth0", int64(0))
		if i > 0 {
			loop.set("previtem", items[i-1])
		} else {
			loop.set("previtem", undefined{"previtem"})
		}
		if i+1 < len(items) {
			loop.set("nextitem", items[i+1])
		} else {
			loop.set("nextitem", undefined{"nextitem"})
		}
		idx := i
		loop.set("cycle", callable(func(r *renderer, args []any, kw *Dict) (any, error) {
			if len(args) == 0 {
				return nil, r.errf("loop.cycle needs arguments")
			}
			return args[idx%len(args)], nil
		}))
		scope := map[string]any{"loop": loop}
		if err := bind(scope, it); err != nil {
			return err
		}
		r.scopes = append(r.scopes, scope)
		err := r.execAll(n.body)
		r.scopes = r.scopes[:len(r.scopes)-1]
		if err == errBreak {
			break
		}
		if err != nil && err != errContinue {
			return err
		}
	}
	return nil
}

func (r *renderer) execSet(n *setNode) error {
	r.line = n.line
	var v any
	if n.value != nil {
		var err error
		if v, err = r.eval(n.value); err != nil {
			return err
		}
	} else {
		s, err := r.capture(n.body)
		if err != nil {
			return err
		}
		v = s
		for _, f := range n.filters {
			if v, err = r.applyFilter(f, v); err != nil {
				return err
			}
		}
	}
	if n.attrOf != "" {
		obj := r.lookup(n.attrOf)
		d, ok := obj.(*Dict)
		if !ok {
			return r.errf("cannot set attribute %q on %s", n.targets[0], typeName(obj))
		}
		d.set(n.targets[0], v)
		return nil
	}
	if len(n.targets) == 1 {
		r.assign(n.targets[0], v)
		return nil
	}
	parts, ok := v.(*List)
	if !ok || len(parts.items) != len(n.targets) {
		return r.errf("cannot unpack %s into %d names", typeName(v), len(n.targets))
	}
	for i, t := range n.targets {
		r.assign(t, parts.items[i])
	}
	return nil
}

func (r *renderer) makeMacro(n *macroNode) callable {
	return func(r *renderer, args []any, kw *Dict) (any, error) {
		if r.depth > 64 {
			return nil, r.errf("macro %s: calls nested too deeply", n.name)
		}
		if len(args) > len(n.params) {
			return nil, r.errf("macro %s takes %d arguments, got %d", n.name, len(n.params), len(args))
		}
		scope := map[string]any{}
		for i, p := range n.params {
			switch {
			case i < len(args):
				scope[p] = args[i]
			case kw != nil && kw.m[p] != nil:
				scope[p] = kw.m[p]
			case n.defaults[i] != nil:
				v, err := r.eval(n.defaults[i])
				if err != nil {
					return nil, err
				}
				scope[p] = v
			default:
				scope[p] = undefined{p}
			}
		}
		if kw != nil {
			for _, k := range kw.keys {
				if _, ok := scope[k]; !ok {
					return nil, r.errf("macro %s has no argument %q", n.name, k)
				}
				scope[k] = kw.m[k]
			}
		}
		// A macro sees the template's top-level names, not the caller's locals.
		saved := r.scopes
		r.scopes = []map[string]any{saved[0], scope}
		r.depth++
		out, err := r.capture(n.body)
		r.depth--
		r.scopes = saved
		return out, err
	}
}

func (r *renderer) eval(e expr) (any, error) {
	if err := r.step(); err != nil {
		return nil, err
	}
	switch e := e.(type) {
	case *literal:
		return e.v, nil
	case *nameExpr:
		return r.lookup(e.name), nil
	case *listExpr:
		l := &List{items: make([]any, len(e.items))}
		for i, x := range e.items {
			v, err := r.eval(x)
			if err != nil {
				return nil, err
			}
			l.items[i] = v
		}
		return l, nil
	case *tupleExpr:
		l := &List{items: make([]any, len(e.items)), tuple: true}
		for i, x := range e.items {
			v, err := r.eval(x)
			if err != nil {
				return nil, err
			}
			l.items[i] = v
		}
		return l, nil
	case *dictExpr:
		d := newDict()
		for i := range e.keys {
			k, err := r.eval(e.keys[i])
			if err != nil {
				return nil, err
			}
			v, err := r.eval(e.vals[i])
			if err != nil {
				return nil, err
			}
			d.set(str(k), v)
		}
		return d, nil
	case *attrExpr:
		obj, err := r.eval(e.obj)
		if err != nil {
			return nil, err
		}
		return r.getAttr(obj, e.name), nil
	case *indexExpr:
		obj, err := r.eval(e.obj)
		if err != nil {
			return nil, err
		}
		idx, err := r.eval(e.index)
		if err != nil {
			return nil, err
		}
		return r.getItem(obj, idx)
	case *sliceExpr:
		return r.evalSlice(e)
	case *callExpr:
		return r.evalCall(e)
	case *filterExpr:
		obj, err := r.eval(e.obj)
		if err != nil {
			return nil, err
		}
		return r.applyFilter(e, obj)
	case *testExpr:
		return r.evalTest(e)
	case *unaryExpr:
		x, err := r.eval(e.x)
		if err != nil {
			return nil, err
		}
		switch e.op {
		case "not":
			return !truthy(x), nil
		case "-":
			switch v := x.(type) {
			case int64:
				return -v, nil
			case float64:
				return -v, nil
			case bool:
				return -boolInt(v), nil
			}
			return nil, r.errf("bad operand type for unary -: %s", typeName(x))
		case "+":
			if _, ok := toFloat(x); !ok {
				return nil, r.errf("bad operand type for unary +: %s", typeName(x))
			}
			return x, nil
		}
	case *binExpr:
		return r.evalBinary(e)
	case *condExpr:
		c, err := r.eval(e.cond)
		if err != nil {
			return nil, err
		}
		if truthy(c) {
			return r.eval(e.a)
		}
		if e.b == nil {
			return undefined{}, nil
		}
		return r.eval(e.b)
	}
	return nil, r.errf("internal error: unknown expression %T", e)
}

func (r *renderer) getAttr(obj any, name string) any {
	if d, ok := obj.(*Dict); ok {
		if v, ok := d.m[name]; ok {
			return v
		}
	}
	if m := r.method(obj, name); m != nil {
		return m
	}
	return undefined{name}
}

func normIndex(i int64, n int) (int, bool) {
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

func (r *renderer) getItem(obj, idx any) (any, error) {
	switch x := obj.(type) {
	case *Dict:
		if k, ok := idx.(string); ok {
			if v, ok := x.m[k]; ok {
				return v, nil
			}
			if m := r.method(obj, k); m != nil {
				return m, nil
			}
			return undefined{k}, nil
		}
		return undefined{}, nil
	case *List:
		i, ok := toInt(idx)
		if !ok {
			return nil, r.errf("list indices must be integers, not %s", typeName(idx))
		}
		j, ok := normIndex(i, len(x.items))
		if !ok {
			return undefined{}, nil
		}
		return x.items[j], nil
	case string:
		i, ok := toInt(idx)
		if !ok {
			return nil, r.errf("string indices must be integers, not %s", typeName(idx))
		}
		rs := []rune(x)
		j, ok := normIndex(i, len(rs))
		if !ok {
			return undefined{}, nil
		}
		return string(rs[j]), nil
	case undefined, nil:
		return undefined{}, nil
	}
	if k, ok := idx.(string); ok {
		if m := r.method(obj, k); m != nil {
			return m, nil
		}
	}
	return nil, r.errf("%s is not subscriptable", typeName(obj))
}

// sliceBounds computes Python slice indices for a sequence of length n.
func sliceBounds(n int, lo, hi, step any) (start, stop, st int, err error) {
	st = 1
	if step != nil {
		s, ok := toInt(step)
		if !ok || s == 0 {
			return 0, 0, 0, fmt.Errorf("slice step must be a non-zero integer")
		}
		st = int(s)
	}
	get := func(v any, def int) (int, error) {
		if v == nil {
			return def, nil
		}
		if _, isU := v.(undefined); isU {
			return def, nil
		}
		i, ok := toInt(v)
		if !ok {
			return 0, fmt.Errorf("slice indices must be integers")
		}
		x := int(max(min(i, math.MaxInt32), math.MinInt32))
		if x < 0 {
			x += n
			if x < 0 {
				if st < 0 {
					x = -1
				} else {
					x = 0
				}
			}
		} else if x >= n {
			if st < 0 {
				x = n - 1
			} else {
				x = n
			}
		}
		return x, nil
	}
	if st > 0 {
		if start, err = get(lo, 0); err != nil {
			return
		}
		stop, err = get(hi, n)
	} else {
		if start, err = get(lo, n-1); err != nil {
			return
		}
		stop, err = get(hi, -1)
	}
	return
}

func (r *renderer) evalSlice(e *sliceExpr) (any, error) {
	obj, err := r.eval(e.obj)
	if err != nil {
		return nil, err
	}
	var parts [3]any
	for i, x := range []expr{e.lo, e.hi, e.step} {
		if x == nil {
			continue
		}
		if parts[i], err = r.eval(x); err != nil {
			return nil, err
		}
	}
	var seq []any
	isStr := false
	switch x := obj.(type) {
	case *List:
		seq = x.items
	case string:
		isStr = true
		for _, c := range x {
			seq = append(seq, string(c))
		}
	case undefined, nil:
		return undefined{}, nil
	default:
		return nil, r.errf("cannot slice %s", typeName(obj))
	}
	start, stop, st, err := sliceBounds(len(seq), parts[0], parts[1], parts[2])
	if err != nil {
		return nil, r.errf("%v", err)
	}
	var out []any
	for i := start; (st > 0 && i < stop) || (st < 0 && i > stop); i += st {
		out = append(out, seq[i])
	}
	if isStr {
		var b strings.Builder
		for _, c := range out {
			b.WriteString(c.(string))
		}
		return b.String(), nil
	}
	return &List{items: out}, nil
}

func (r *renderer) evalArgs(args []expr, kwName []string, kwVal []expr) ([]any, *Dict, error) {
	vals := make([]any, len(args))
	for i, a := range args {
		v, err := r.eval(a)
		if err != nil {
			return nil, nil, err
		}
		vals[i] = v
	}
	var kw *Dict
	if len(kwName) > 0 {
		kw = newDict()
		for i, k := range kwName {
			v, err := r.eval(kwVal[i])
			if err != nil {
				return nil, nil, err
			}
			kw.set(k, v)
		}
	}
	return vals, kw, nil
}

func (r *renderer) evalCall(e *callExpr) (any, error) {
	fn, err := r.eval(e.fn)
	if err != nil {
		return nil, err
	}
	args, kw, err := r.evalArgs(e.args, e.kwName, e.kwVal)
	if err != nil {
		return nil, err
	}
	r.line = e.line
	f, ok := fn.(callable)
	if !ok {
		switch x := e.fn.(type) {
		case *nameExpr:
			return nil, r.errf("unsupported function %q", x.name)
		case *attrExpr:
			obj, _ := r.eval(x.obj)
			return nil, r.errf("unsupported method %q on %s", x.name, typeName(obj))
		}
		return nil, r.errf("%s is not callable", typeName(fn))
	}
	return f(r, args, kw)
}

func (r *renderer) evalBinary(e *binExpr) (any, error) {
	l, err := r.eval(e.l)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "and":
		if !truthy(l) {
			return l, nil
		}
		return r.eval(e.r)
	case "or":
		if truthy(l) {
			return l, nil
		}
		return r.eval(e.r)
	}
	rv, err := r.eval(e.r)
	if err != nil {
		return nil, err
	}
	r.line = e.line
	switch e.op {
	case "==":
		return equal(l, rv), nil
	case "!=":
		return !equal(l, rv), nil
	case "<", "<=", ">", ">=":
		c, err := compare(l, rv)
		if err != nil {
			return nil, r.errf("%v", err)
		}
		switch e.op {
		case "<":
			return c < 0, nil
		case "<=":
			return c <= 0, nil
		case ">":
			return c > 0, nil
		}
		return c >= 0, nil
	case "in", "not in":
		in, err := r.contains(rv, l)
		if err != nil {
			return nil, err
		}
		return in == (e.op == "in"), nil
	case "~":
		s := str(l) + str(rv)
		if len(s) > r.maxOut {
			return nil, r.errf("string longer than %d bytes", r.maxOut)
		}
		return s, r.cost(len(s))
	case "+":
		switch x := l.(type) {
		case string:
			if y, ok := rv.(string); ok {
				if len(x)+len(y) > r.maxOut {
					return nil, r.errf("string longer than %d bytes", r.maxOut)
				}
				return x + y, r.cost(len(x) + len(y))
			}
		case *List:
			if y, ok := rv.(*List); ok {
				items := make([]any, 0, len(x.items)+len(y.items))
				return &List{items: append(append(items, x.items...), y.items...)}, r.cost(16 * (len(x.items) + len(y.items)))
			}
		}
	}
	return r.arith(e.op, l, rv)
}

func (r *renderer) arith(op string, l, rv any) (any, error) {
	if op == "*" {
		if s, ok := l.(string); ok {
			if n, ok := toInt(rv); ok {
				if n > 0 && int64(len(s))*n > int64(r.maxOut) {
					return nil, r.errf("string longer than %d bytes", r.maxOut)
				}
				return strings.Repeat(s, int(max(n, 0))), nil
			}
		}
	}
	li, lInt := toInt(l)
	ri, rInt := toInt(rv)
	lf, lNum := toFloat(l)
	rf, rNum := toFloat(rv)
	if !lNum || !rNum {
		return nil, r.errf("unsupported operand types for %s: %s and %s", op, typeName(l), typeName(rv))
	}
	if lInt && rInt {
		switch op {
		case "+":
			return li + ri, nil
		case "-":
			return li - ri, nil
		case "*":
			return li * ri, nil
		case "//":
			if ri == 0 {
				return nil, r.errf("integer division by zero")
			}
			q := li / ri
			if (li%ri != 0) && ((li < 0) != (ri < 0)) {
				q--
			}
			return q, nil
		case "%":
			if ri == 0 {
				return nil, r.errf("integer modulo by zero")
			}
			m := li % ri
			if m != 0 && ((m < 0) != (ri < 0)) {
				m += ri
			}
			return m, nil
		case "**":
			if ri >= 0 && ri < 64 {
				p := int64(1)
				for i := int64(0); i < ri; i++ {
					p *= li
				}
				return p, nil
			}
		}
	}
	switch op {
	case "+":
		return lf + rf, nil
	case "-":
		return lf - rf, nil
	case "*":
		return lf * rf, nil
	case "/":
		if rf == 0 {
			return nil, r.errf("division by zero")
		}
		return lf / rf, nil
	case "//":
		if rf == 0 {
			return nil, r.errf("division by zero")
		}
		return math.Floor(lf / rf), nil
	case "%":
		if rf == 0 {
			return nil, r.errf("modulo by zero")
		}
		m := math.Mod(lf, rf)
		if m != 0 && ((m < 0) != (rf < 0)) {
			m += rf
		}
		return m, nil
	case "**":
		return math.Pow(lf, rf), nil
	}
	return nil, r.errf("unsupported operator %q", op)
}

// contains is Python's "needle in haystack".
func (r *renderer) contains(haystack, needle any) (bool, error) {
	switch h := haystack.(type) {
	case string:
		n, ok := needle.(string)
		if !ok {
			return false, r.errf("'in <string>' requires string as left operand, not %s", typeName(needle))
		}
		return strings.Contains(h, n), nil
	case *List:
		for _, x := range h.items {
			if equal(x, needle) {
				return true, nil
			}
		}
		return false, nil
	case *Dict:
		k, ok := needle.(string)
		if !ok {
			return false, nil
		}
		_, in := h.m[k]
		return in, nil
	case undefined:
		return false, nil
	}
	return false, r.errf("argument of type %s is not iterable", typeName(haystack))
}
