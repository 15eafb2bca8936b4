package chat

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
)

type filterFunc func(r *renderer, v any, args []any, kw *Dict) (any, error)

var filters map[string]filterFunc

var tests map[string]func(v any, args []any) bool

func init() {
	filters = map[string]filterFunc{
		"trim": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			if len(args) > 0 {
				return strings.Trim(str(v), str(args[0])), nil
			}
			return strings.TrimSpace(str(v)), nil
		},
		"upper":      strFilter(strings.ToUpper),
		"lower":      strFilter(strings.ToLower),
		"capitalize": strFilter(capitalize),
		"title":      strFilter(title),
		"string":     func(r *renderer, v any, args []any, kw *Dict) (any, error) { return str(v), nil },
		"safe":       func(r *renderer, v any, args []any, kw *Dict) (any, error) { return v, nil },
		"e": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			return htmlEscape(str(v)), nil
		},
		"escape": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			return htmlEscape(str(v)), nil
		},
		"length": filterLength,
		"count":  filterLength,
		"tojson": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			indent := int64(0)
			if len(args) > 0 {
				indent, _ = toInt(args[0])
			}
			if kw != nil {
				if x, ok := kw.m["indent"]; ok {
					indent, _ = toInt(x)
				}
			}
			var b strings.Builder
			if err := toJSON(&b, v, int(indent), 0); err != nil {
				return nil, r.errf("%v", err)
			}
			return b.String(), nil
		},
		"first": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			items, _ := iterate(v)
			if len(items) == 0 {
				return undefined{}, nil
			}
			return items[0], nil
		},
		"last": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			items, _ := iterate(v)
			if len(items) == 0 {
				return undefined{}, nil
			}
			return items[len(items)-1], nil
		},
		"join": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			sep := ""
			if len(args) > 0 {
				sep = str(args[0])
			}
			items, ok := iterate(v)
			if !ok {
				return nil, r.errf("join: cannot iterate %s", typeName(v))
			}
			parts := make([]string, len(items))
			for i, x := range items {
				parts[i] = str(x)
			}
			return strings.Join(parts, sep), nil
		},
		"default": filterDefault,
		"d":       filterDefault,
		"int": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			switch x := v.(type) {
			case int64:
				return x, nil
			case float64:
				return int64(x), nil
			case bool:
				return boolInt(x), nil
			case string:
				if i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
					return i, nil
				}
				if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
					return int64(f), nil
				}
			}
			return int64(0), nil
		},
		"float": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			if f, ok := toFloat(v); ok {
				return f, nil
			}
			if s, ok := v.(string); ok {
				if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
					return f, nil
				}
			}
			return 0.0, nil
		},
		"abs": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			switch x := v.(type) {
			case int64:
				return max(x, -x), nil
			case float64:
				return max(x, -x), nil
			}
			return nil, r.errf("abs: bad operand %s", typeName(v))
		},
		"round": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			f, ok := toFloat(v)
			if !ok {
				return nil, r.errf("round: bad operand %s", typeName(v))
			}
			prec := int64(0)
			if len(args) > 0 {
				prec, _ = toInt(args[0])
			}
			p, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', int(prec), 64), 64)
			return p, nil
		},
		"list": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			items, ok := iterate(v)
			if !ok {
				return nil, r.errf("list: cannot iterate %s", typeName(v))
			}
			return &List{items: append([]any(nil), items...)}, nil
		},
		"items": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			d, ok := v.(*Dict)
			if !ok {
				if _, u := v.(undefined); u || v == nil {
					return &List{}, nil
				}
				return nil, r.errf("items: %s is not a mapping", typeName(v))
			}
			return dictItems(d), nil
		},
		"dictsort": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			d, ok := v.(*Dict)
			if !ok {
				return nil, r.errf("dictsort: %s is not a mapping", typeName(v))
			}
			keys := append([]string(nil), d.keys...)
			sort.Strings(keys)
			l := &List{}
			for _, k := range keys {
				l.items = append(l.items, &List{items: []any{k, d.m[k]}, tuple: true})
			}
			return l, nil
		},
		"reverse": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			if s, ok := v.(string); ok {
				rs := []rune(s)
				for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
					rs[i], rs[j] = rs[j], rs[i]
				}
				return string(rs), nil
			}
			items, _ := iterate(v)
			out := make([]any, len(items))
			for i, x := range items {
				out[len(items)-1-i] = x
			}
			return &List{items: out}, nil
		},
		"replace": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			if len(args) < 2 {
				return nil, r.errf("replace needs two arguments")
			}
			n := -1
			if len(args) > 2 {
				c, _ := toInt(args[2])
				n = int(c)
			}
			return strings.Replace(str(v), str(args[0]), str(args[1]), n), nil
		},
		"indent": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			width := "    "
			first := false
			if len(args) > 0 {
				if s, ok := args[0].(string); ok {
					width = s
				} else if n, ok := toInt(args[0]); ok {
					width = strings.Repeat(" ", int(max(min(n, 1000), 0)))
				}
			}
			if len(args) > 1 {
				first = truthy(args[1])
			}
			if kw != nil {
				if x, ok := kw.m["first"]; ok {
					first = truthy(x)
				}
				if x, ok := kw.m["width"]; ok {
					if n, ok := toInt(x); ok {
						width = strings.Repeat(" ", int(max(min(n, 1000), 0)))
					}
				}
			}
			lines := strings.Split(str(v), "\n")
			for i := range lines {
				if (i > 0 || first) && lines[i] != "" {
					lines[i] = width + lines[i]
				}
			}
			return strings.Join(lines, "\n"), nil
		},
		"map":        filterMap,
		"select":     selectFilter(false, false),
		"reject":     selectFilter(true, false),
		"selectattr": selectFilter(false, true),
		"rejectattr": selectFilter(true, true),
		"unique": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			items, _ := iterate(v)
			out := &List{}
			for _, x := range items {
				dup := false
				for _, y := range out.items {
					if equal(x, y) {
						dup = true
						break
					}
				}
				if !dup {
					out.items = append(out.items, x)
				}
			}
			return out, nil
		},
		"sort": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			items, _ := iterate(v)
			out := append([]any(nil), items...)
			var attr string
			reverse := false
			if kw != nil {
				if a, ok := kw.m["attribute"]; ok {
					attr = str(a)
				}
				reverse = truthy(kw.m["reverse"])
			}
			var cmpErr error
			sort.SliceStable(out, func(i, j int) bool {
				a, b := out[i], out[j]
				if attr != "" {
					a, b = r.getAttr(a, attr), r.getAttr(b, attr)
				}
				c, err := compare(a, b)
				if err != nil {
					cmpErr = err
				}
				if reverse {
					return c > 0
				}
				return c < 0
			})
			if cmpErr != nil {
				return nil, r.errf("sort: %v", cmpErr)
			}
			return &List{items: out}, nil
		},
		"wordcount": func(r *renderer, v any, args []any, kw *Dict) (any, error) {
			return int64(len(strings.Fields(str(v)))), nil
		},
	}

	tests = map[string]func(v any, args []any) bool{
		"defined":   func(v any, _ []any) bool { _, u := v.(undefined); return !u },
		"undefined": func(v any, _ []any) bool { _, u := v.(undefined); return u },
		"none":      func(v any, _ []any) bool { return v == nil },
		"string":    func(v any, _ []any) bool { _, ok := v.(string); return ok },
		"number": func(v any, _ []any) bool {
			switch v.(type) {
			case int64, float64:
				return true
			}
			return false
		},
		"integer": func(v any, _ []any) bool { _, ok := v.(int64); return ok },
		"float":   func(v any, _ []any) bool { _, ok := v.(float64); return ok },
		"boolean": func(v any, _ []any) bool { _, ok := v.(bool); return ok },
		"true":    func(v any, _ []any) bool { b, ok := v.(bool); return ok && b },
		"false":   func(v any, _ []any) bool { b, ok := v.(bool); return ok && !b },
		"mapping": func(v any, _ []any) bool { _, ok := v.(*Dict); return ok },
		"sequence": func(v any, _ []any) bool {
			switch v.(type) {
			case *List, string, *Dict:
				return true
			}
			return false
		},
		"iterable": func(v any, _ []any) bool {
			switch v.(type) {
			case *List, string, *Dict:
				return true
			}
			return false
		},
		"callable": func(v any, _ []any) bool { _, ok := v.(callable); return ok },
		"odd":      func(v any, _ []any) bool { i, ok := toInt(v); return ok && i%2 != 0 },
		"even":     func(v any, _ []any) bool { i, ok := toInt(v); return ok && i%2 == 0 },
		"divisibleby": func(v any, a []any) bool {
			i, ok1 := toInt(v)
			if len(a) == 0 {
				return false
			}
			d, ok2 := toInt(a[0])
			return ok1 && ok2 && d != 0 && i%d == 0
		},
		"lower":   func(v any, _ []any) bool { s, ok := v.(string); return ok && strings.ToLower(s) == s },
		"upper":   func(v any, _ []any) bool { s, ok := v.(string); return ok && strings.ToUpper(s) == s },
		"equalto": testEq, "eq": testEq, "==": testEq, "sameas": testEq,
		"ne": func(v any, a []any) bool { return len(a) > 0 && !equal(v, a[0]) }, "!=": func(v any, a []any) bool { return len(a) > 0 && !equal(v, a[0]) },
		"in": func(v any, a []any) bool {
			if len(a) == 0 {
				return false
			}
			in, err := (&renderer{maxOut: 1}).contains(a[0], v)
			return err == nil && in
		},
		"gt": cmpTest(func(c int) bool { return c > 0 }), ">": cmpTest(func(c int) bool { return c > 0 }),
		"ge": cmpTest(func(c int) bool { return c >= 0 }), ">=": cmpTest(func(c int) bool { return c >= 0 }),
		"lt": cmpTest(func(c int) bool { return c < 0 }), "<": cmpTest(func(c int) bool { return c < 0 }),
		"le": cmpTest(func(c int) bool { return c <= 0 }), "<=": cmpTest(func(c int) bool { return c <= 0 }),
	}
}

func testEq(v any, a []any) bool { return len(a) > 0 && equal(v, a[0]) }

func cmpTest(ok func(int) bool) func(v any, a []any) bool {
	return func(v any, a []any) bool {
		if len(a) == 0 {
			return false
		}
		c, err := compare(v, a[0])
		return err == nil && ok(c)
	}
}

func strFilter(f func(string) string) filterFunc {
	return func(r *renderer, v any, args []any, kw *Dict) (any, error) { return f(str(v)), nil }
}

func capitalize(s string) string {
	rs := []rune(strings.ToLower(s))
	if len(rs) > 0 {
		rs[0] = unicode.ToUpper(rs[0])
	}
	return string(rs)
}

func title(s string) string {
	rs := []rune(s)
	prevLetter := false
	for i, c := range rs {
		if unicode.IsLetter(c) {
			if prevLetter {
				rs[i] = unicode.ToLower(c)
			} else {
				rs[i] = unicode.ToUpper(c)
			}
			prevLetter = true
		} else {
			prevLetter = false
		}
	}
	return string(rs)
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func filterLength(r *renderer, v any, args []any, kw *Dict) (any, error) {
	switch x := v.(type) {
	case string:
		return int64(len([]rune(x))), nil
	case *List:
		return int64(len(x.items)), nil
	case *Dict:
		return int64(len(x.keys)), nil
	case undefined, nil:
		return int64(0), nil
	}
	return nil, r.errf("object of type %s has no length", typeName(v))
}

func filterDefault(r *renderer, v any, args []any, kw *Dict) (any, error) {
	def := any("")
	if len(args) > 0 {
		def = args[0]
	}
	boolean := len(args) > 1 && truthy(args[1])
	if kw != nil && truthy(kw.m["boolean"]) {
		boolean = true
	}
	if _, u := v.(undefined); u || (boolean && !truthy(v)) {
		return def, nil
	}
	return v, nil
}

func dictItems(d *Dict) *List {
	l := &List{items: make([]any, len(d.keys))}
	for i, k := range d.keys {
		l.items[i] = &List{items: []any{k, d.m[k]}, tuple: true}
	}
	return l
}

func filterMap(r *renderer, v any, args []any, kw *Dict) (any, error) {
	items, ok := iterate(v)
	if !ok {
		return nil, r.errf("map: cannot iterate %s", typeName(v))
	}
	out := &List{items: make([]any, len(items))}
	if kw != nil {
		if a, ok := kw.m["attribute"]; ok {
			for i, x := range items {
				out.items[i] = r.getAttr(x, str(a))
				if _, u := out.items[i].(undefined); u {
					if d, ok := kw.m["default"]; ok {
						out.items[i] = d
					}
				}
			}
			return out, nil
		}
	}
	if len(args) == 0 {
		return nil, r.errf("map needs a filter name or attribute=")
	}
	name := str(args[0])
	f, ok := filters[name]
	if !ok {
		return nil, r.errf("unsupported filter %q", name)
	}
	for i, x := range items {
		y, err := f(r, x, args[1:], nil)
		if err != nil {
			return nil, err
		}
		out.items[i] = y
	}
	return out, nil
}

func selectFilter(reject, byAttr bool) filterFunc {
	return func(r *renderer, v any, args []any, kw *Dict) (any, error) {
		items, ok := iterate(v)
		if !ok {
			return nil, r.errf("cannot iterate %s", typeName(v))
		}
		var attr string
		if byAttr {
			if len(args) == 0 {
				return nil, r.errf("selectattr needs an attribute name")
			}
			attr, args = str(args[0]), args[1:]
		}
		test := func(x any) bool { return truthy(x) }
		if len(args) > 0 {
			name := str(args[0])
			t, ok := tests[name]
			if !ok {
				return nil, r.errf("unsupported test %q", name)
			}
			targs := args[1:]
			test = func(x any) bool { return t(x, targs) }
		}
		out := &List{}
		for _, x := range items {
			y := x
			if byAttr {
				y = r.getAttr(x, attr)
			}
			if test(y) != reject {
				out.items = append(out.items, x)
			}
		}
		return out, nil
	}
}

func (r *renderer) applyFilter(f *filterExpr, v any) (any, error) {
	args, kw, err := r.evalArgs(f.args, f.kwName, f.kwVal)
	if err != nil {
		return nil, err
	}
	r.line = f.line
	return filters[f.name](r, v, args, kw)
}

func (r *renderer) evalTest(e *testExpr) (any, error) {
	v, err := r.eval(e.obj)
	if err != nil {
		return nil, err
	}
	args, _, err := r.evalArgs(e.args, nil, nil)
	if err != nil {
		return nil, err
	}
	t := tests[e.name]
	return t(v, args) != e.neg, nil
}

// method returns the bound method name of obj, or nil.
func (r *renderer) method(obj any, name string) callable {
	switch x := obj.(type) {
	case string:
		return stringMethod(x, name)
	case *Dict:
		switch name {
		case "items":
			return func(r *renderer, args []any, kw *Dict) (any, error) { return dictItems(x), nil }
		case "keys":
			return func(r *renderer, args []any, kw *Dict) (any, error) {
				l := &List{}
				for _, k := range x.keys {
					l.items = append(l.items, k)
				}
				return l, nil
			}
		case "values":
			return func(r *renderer, args []any, kw *Dict) (any, error) {
				l := &List{}
				for _, k := range x.keys {
					l.items = append(l.items, x.m[k])
				}
				return l, nil
			}
		case "get":
			return func(r *renderer, args []any, kw *Dict) (any, error) {
				if len(args) == 0 {
					return nil, r.errf("get needs a key")
				}
				if v, ok := x.m[str(args[0])]; ok {
					return v, nil
				}
				if len(args) > 1 {
					return args[1], nil
				}
				return nil, nil
			}
		case "update":
			return func(r *renderer, args []any, kw *Dict) (any, error) {
				if len(args) > 0 {
					if o, ok := args[0].(*Dict); ok {
						for _, k := range o.keys {
							x.set(k, o.m[k])
						}
					}
				}
				if kw != nil {
					for _, k := range kw.keys {
						x.set(k, kw.m[k])
					}
				}
				return nil, nil
			}
		}
	case *List:
		switch name {
		case "append":
			return func(r *renderer, args []any, kw *Dict) (any, error) {
				if len(args) != 1 {
					return nil, r.errf("append takes one argument")
				}
				if len(x.items) >= r.maxOut {
					return nil, r.errf("list longer than %d items", r.maxOut)
				}
				x.items = append(x.items, args[0])
				return nil, nil
			}
		case "pop":
			return func(r *renderer, args []any, kw *Dict) (any, error) {
				i := int64(-1)
				if len(args) > 0 {
					i, _ = toInt(args[0])
				}
				j, ok := normIndex(i, len(x.items))
				if !ok {
					return nil, r.errf("pop index out of range")
				}
				v := x.items[j]
				x.items = append(x.items[:j:j], x.items[j+1:]...)
				return v, nil
			}
		case "index":
			return func(r *renderer, args []any, kw *Dict) (any, error) {
				for i, y := range x.items {
					if len(args) > 0 && equal(y, args[0]) {
						return int64(i), nil
					}
				}
				return nil, r.errf("value not in list")
			}
		case "count":
			return func(r *renderer, args []any, kw *Dict) (any, error) {
				n := int64(0)
				for _, y := range x.items {
					if len(args) > 0 && equal(y, args[0]) {
						n++
					}
				}
				return n, nil
			}
		}
	}
	return nil
}

func stringMethod(s, name string) callable {
	strip := func(f func(string, string) string, g func(string) string) callable {
		return func(r *renderer, args []any, kw *Dict) (any, error) {
			if len(args) > 0 && args[0] != nil {
				return f(s, str(args[0])), nil
			}
			return g(s), nil
		}
	}
	affix := func(f func(string, string) bool) callable {
		return func(r *renderer, args []any, kw *Dict) (any, error) {
			if len(args) == 0 {
				return nil, r.errf("%s needs an argument", name)
			}
			if l, ok := args[0].(*List); ok {
				for _, p := range l.items {
					if f(s, str(p)) {
						return true, nil
					}
				}
				return false, nil
			}
			return f(s, str(args[0])), nil
		}
	}
	switch name {
	case "strip":
		return strip(strings.Trim, strings.TrimSpace)
	case "lstrip":
		return strip(strings.TrimLeft, func(s string) string { return strings.TrimLeftFunc(s, unicode.IsSpace) })
	case "rstrip":
		return strip(strings.TrimRight, func(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) })
	case "startswith":
		return affix(strings.HasPrefix)
	case "endswith":
		return affix(strings.HasSuffix)
	case "upper":
		return func(r *renderer, args []any, kw *Dict) (any, error) { return strings.ToUpper(s), nil }
	case "lower":
		return func(r *renderer, args []any, kw *Dict) (any, error) { return strings.ToLower(s), nil }
	case "title":
		return func(r *renderer, args []any, kw *Dict) (any, error) { return title(s), nil }
	case "capitalize":
		return func(r *renderer, args []any, kw *Dict) (any, error) { return capitalize(s), nil }
	case "replace":
		return func(r *renderer, args []any, kw *Dict) (any, error) {
			if len(args) < 2 {
				return nil, r.errf("replace needs two arguments")
			}
			n := -1
			if len(args) > 2 {
				c, _ := toInt(args[2])
				n = int(c)
			}
			return strings.Replace(s, str(args[0]), str(args[1]), n), nil
		}
	case "find":
		return func(r *renderer, args []any, kw *Dict) (any, error) {
			if len(args) == 0 {
				return nil, r.errf("find needs an argument")
			}
			i := strings.Index(s, str(args[0]))
			if i < 0 {
				return int64(-1), nil
			}
			return int64(len([]rune(s[:i]))), nil
		}
	case "count":
		return func(r *renderer, args []any, kw *Dict) (any, error) {
			if len(args) == 0 {
				return nil, r.errf("count needs an argument")
			}
			return int64(strings.Count(s, str(args[0]))), nil
		}
	case "join":
		return func(r *renderer, args []any, kw *Dict) (any, error) {
			if len(args) == 0 {
				return nil, r.errf("join needs an argument")
			}
			items, _ := iterate(args[0])
			parts := make([]string, len(items))
			for i, x := range items {
				parts[i] = str(x)
			}
			return strings.Join(parts, s), nil
		}
	case "split", "rsplit":
		return func(r *renderer, args []any, kw *Dict) (any, error) {
			n := -1
			if len(args) > 1 {
				m, _ := toInt(args[1])
				if m >= 0 {
					n = int(m) + 1
				}
			}
			var parts []string
			if len(args) == 0 || args[0] == nil {
				parts = strings.Fields(s)
				if n > 0 && len(parts) > n {
					// Whitespace split with a limit keeps the rest unsplit.
					rest := s
					parts = nil
					for len(parts) < n-1 {
						rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
						k := strings.IndexFunc(rest, unicode.IsSpace)
						if k < 0 {
							break
						}
						parts = append(parts, rest[:k])
						rest = rest[k:]
					}
					if rest = strings.TrimLeftFunc(rest, unicode.IsSpace); rest != "" {
						parts = append(parts, rest)
					}
				}
			} else {
				sep := str(args[0])
				if sep == "" {
					return nil, r.errf("empty separator")
				}
				if name == "rsplit" && n > 0 {
					all := strings.Split(s, sep)
					if len(all) > n {
						head := strings.Join(all[:len(all)-n+1], sep)
						parts = append([]string{head}, all[len(all)-n+1:]...)
					} else {
						parts = all
					}
				} else {
					parts = strings.SplitN(s, sep, n)
				}
			}
			l := &List{items: make([]any, len(parts))}
			for i, p := range parts {
				l.items[i] = p
			}
			return l, nil
		}
	case "splitlines":
		return func(r *renderer, args []any, kw *Dict) (any, error) {
			l := &List{}
			for _, p := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
				l.items = append(l.items, p)
			}
			if s == "" {
				l.items = nil
			}
			return l, nil
		}
	case "isdigit":
		return func(r *renderer, args []any, kw *Dict) (any, error) {
			if s == "" {
				return false, nil
			}
			for _, c := range s {
				if !unicode.IsDigit(c) {
					return false, nil
				}
			}
			return true, nil
		}
	}
	return nil
}
