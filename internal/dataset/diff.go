package dataset

import (
	"context"
	"strconv"
)

// Diff says how version B differs from version A, comparing rows by
// content hash (as multisets). A removed and an added row with the same
// origin count as one changed row (e.g. a PII scrub).
type Diff struct {
	A         *Version     `json:"a"`
	B         *Version     `json:"b"`
	Added     int          `json:"added"`
	Removed   int          `json:"removed"`
	Changed   int          `json:"changed"`
	Unchanged int          `json:"unchanged"`
	Examples  []DiffChange `json:"examples,omitempty"` // the first 20 changes, in B's then A's row order
}

// DiffChange is one row that differs.
type DiffChange struct {
	Kind string `json:"kind"`          // "+" added, "-" removed, "~" changed
	Row  int    `json:"row"`           // index in B (added, changed) or A (removed)
	Old  string `json:"old,omitempty"` // the start of the text in A
	New  string `json:"new,omitempty"` // the start of the text in B
}

const maxDiffExamples = 20

type diffRow struct {
	idx    int
	hash   string
	origin string
	text   string
}

func (s *Store) diffRows(ctx context.Context, versionID string) ([]diffRow, error) {
	var out []diffRow
	err := s.EachRow(ctx, versionID, func(idx int, r Row) error {
		h, _, err := r.hash()
		if err != nil {
			return err
		}
		o := r.Origin
		key := ""
		if o != (Origin{}) {
			key = o.Source + "\x00" + o.Format + "\x00" + strconv.Itoa(o.Line) + "\x00" + o.RequestID
		}
		out = append(out, diffRow{idx: idx, hash: h, origin: key, text: preview(r.Content())})
		return nil
	})
	return out, err
}

// Diff compares two versions (of any datasets).
func (s *Store) Diff(ctx context.Context, a, b string) (*Diff, error) {
	va, err := s.Version(ctx, a)
	if err != nil {
		return nil, err
	}
	vb, err := s.Version(ctx, b)
	if err != nil {
		return nil, err
	}
	ra, err := s.diffRows(ctx, va.ID)
	if err != nil {
		return nil, err
	}
	rb, err := s.diffRows(ctx, vb.ID)
	if err != nil {
		return nil, err
	}
	d := &Diff{A: va, B: vb}
	inA := map[string]int{}
	for _, r := range ra {
		inA[r.hash]++
	}
	var added []diffRow
	for _, r := range rb {
		if inA[r.hash] > 0 {
			inA[r.hash]--
			d.Unchanged++
			continue
		}
		added = append(added, r)
	}
	var removed []diffRow
	for _, r := range ra {
		if inA[r.hash] > 0 {
			inA[r.hash]--
			removed = append(removed, r)
		}
	}
	// Pair removed and added rows of the same origin as changes.
	byOrigin := map[string][]int{}
	for k, r := range removed {
		if r.origin != "" {
			byOrigin[r.origin] = append(byOrigin[r.origin], k)
		}
	}
	paired := make([]bool, len(removed))
	ex := func(c DiffChange) {
		if len(d.Examples) < maxDiffExamples {
			d.Examples = append(d.Examples, c)
		}
	}
	for _, r := range added {
		if ks := byOrigin[r.origin]; r.origin != "" && len(ks) > 0 {
			k := ks[0]
			byOrigin[r.origin] = ks[1:]
			paired[k] = true
			d.Changed++
			ex(DiffChange{Kind: "~", Row: r.idx, Old: removed[k].text, New: r.text})
			continue
		}
		d.Added++
		ex(DiffChange{Kind: "+", Row: r.idx, New: r.text})
	}
	for k, r := range removed {
		if !paired[k] {
			d.Removed++
			ex(DiffChange{Kind: "-", Row: r.idx, Old: r.text})
		}
	}
	return d, nil
}
