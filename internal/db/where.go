package db

import (
	"strings"
	"time"
)

// Where builds a WHERE clause from optional conditions: a condition whose
// value is unset ("", 0, nil) is left out, so a filter struct turns into
// SQL one field a line. Placeholders are ?; pass the query through Rebind.
// The zero value is an empty clause.
type Where struct {
	conds []string
	args  []any
}

func unset(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case int:
		return x == 0
	case int64:
		return x == 0
	}
	return false
}

// Eq adds col = v unless v is unset.
func (w *Where) Eq(col string, v any) *Where {
	if !unset(v) {
		w.conds = append(w.conds, col+" = ?")
		w.args = append(w.args, v)
	}
	return w
}

// Range adds col >= lo and col < hi, each unless unset: the half-open
// range [lo, hi).
func (w *Where) Range(col string, lo, hi any) *Where {
	if !unset(lo) {
		w.conds = append(w.conds, col+" >= ?")
		w.args = append(w.args, lo)
	}
	if !unset(hi) {
		w.conds = append(w.conds, col+" < ?")
		w.args = append(w.args, hi)
	}
	return w
}

// Like adds col LIKE pattern (with \ as the escape character) unless
// pattern is "". Build patterns with LikeEscape.
func (w *Where) Like(col, pattern string) *Where {
	if pattern != "" {
		w.conds = append(w.conds, col+` LIKE ? ESCAPE '\'`)
		w.args = append(w.args, pattern)
	}
	return w
}

// Cond adds a condition as written, with its arguments.
func (w *Where) Cond(sql string, args ...any) *Where {
	w.conds = append(w.conds, sql)
	w.args = append(w.args, args...)
	return w
}

// SQL returns " WHERE c1 AND c2…", or "" when no condition was added.
func (w *Where) SQL() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// Args returns the arguments for SQL's placeholders, in order.
func (w *Where) Args() []any { return w.args }

// LikeEscape escapes s for a LIKE pattern whose escape character is \.
func LikeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Millis is t in Unix milliseconds, or nil (unset) for the zero time.
func Millis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}
