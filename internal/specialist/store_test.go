package specialist

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEncodeRoundTrip(t *testing.T) {
	ctx := context.Background()
	m, _, err := Train(ctx, synthData(200, 1), nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	b := encode(t, m)
	if n, _ := m.EncodedSize(); n != len(b) {
		t.Errorf("EncodedSize = %d, want %d", n, len(b))
	}
	m2, err := ReadModel(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"refund please", "你好", "stolen card now", "zzz"}
	p1, _ := m.Predict(ctx, texts, 3)
	p2, _ := m2.Predict(ctx, texts, 3)
	if d := cmp.Diff(p1, p2); d != "" {
		t.Errorf("decoded model predicts differently:\n%s", d)
	}
	if !bytes.Equal(b, encode(t, m2)) {
		t.Error("re-encoding changes bytes")
	}
	// Any flipped byte is caught.
	for _, i := range []int{0, 10, len(b) / 2, len(b) - 1} {
		c := bytes.Clone(b)
		c[i] ^= 0x40
		if _, err := DecodeModel(c); err == nil {
			t.Errorf("corruption at byte %d not detected", i)
		}
	}
	if _, err := DecodeModel(b[:len(b)-9]); err == nil {
		t.Error("truncation not detected")
	}
}

func FuzzDecodeModel(f *testing.F) {
	m, _, err := Train(context.Background(), synthData(60, 1), nil, Config{C: []float64{1}, CharWeights: []float32{1}})
	if err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	m.WriteTo(&b)
	f.Add(b.Bytes())
	f.Add([]byte(modelMagic))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := DecodeModel(in)
		if err != nil {
			return
		}
		if _, err := m.Predict(context.Background(), []string{"refund 退款"}, 2); err != nil && !errors.Is(err, ErrNoEmbedder) {
			t.Fatal(err)
		}
	})
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return clock }

	train := synthData(200, 1)
	good, res, err := Train(ctx, train, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	man, err := s.Add("shop-intent", good, NewManifest(good, res, train))
	if err != nil {
		t.Fatal(err)
	}
	if man.Version != 1 || man.ModelBytes == 0 || man.DataHash != DataHash(train) || !man.CreatedAt.Equal(clock) {
		t.Errorf("manifest = %+v", man)
	}
	held := synthData(80, 7)
	g, err := s.PromoteIfBetter(ctx, "shop-intent", 1, held)
	if err != nil || !g.Promoted {
		t.Fatalf("first version not promoted: %+v %v", g, err)
	}

	// A worse model (trained on scrambled labels) must not pass the gate.
	bad := synthData(200, 1)
	for i := range bad {
		bad[i].Label = bad[(i+1)%len(bad)].Label
	}
	worse, res2, err := Train(ctx, bad, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	man2, err := s.Add("shop-intent", worse, NewManifest(worse, res2, bad))
	if err != nil {
		t.Fatal(err)
	}
	if man2.Version != 2 {
		t.Errorf("second version = %d", man2.Version)
	}
	g, err = s.PromoteIfBetter(ctx, "shop-intent", 2, held)
	if err != nil {
		t.Fatal(err)
	}
	if g.Promoted || g.Current <= g.Candidate || g.CurrentVersion != 1 {
		t.Errorf("worse model passed the gate: %+v", g)
	}
	if v, _ := s.Promoted("shop-intent"); v != 1 {
		t.Errorf("promoted = %d, want 1", v)
	}

	// Manual promotion, then rollback.
	if err := s.Promote("shop-intent", 2); err != nil {
		t.Fatal(err)
	}
	_, pm, err := s.LoadPromoted("shop-intent")
	if err != nil || pm.Version != 2 {
		t.Fatalf("promoted after Promote: %+v %v", pm, err)
	}
	if v, err := s.Rollback("shop-intent"); err != nil || v != 1 {
		t.Fatalf("rollback = %d, %v", v, err)
	}
	if _, err := s.Rollback("shop-intent"); err == nil {
		t.Error("rollback past the first promotion succeeded")
	}
	m, _, err := s.LoadPromoted("shop-intent")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encode(t, m), encode(t, good)) {
		t.Error("promoted model after rollback is not version 1")
	}

	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "shop-intent" || list[0].Versions != 2 || list[0].Promoted != 1 || list[0].Latest.Version != 2 {
		t.Errorf("list = %+v", list)
	}
	vs, err := s.Versions("shop-intent")
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions = %d, %v", len(vs), err)
	}

	if _, _, err := s.Load("shop-intent", 9); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing version: err = %v", err)
	}
	if _, _, err := s.LoadPromoted("nothing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing name: err = %v", err)
	}
	if err := s.Promote("../evil", 1); err == nil {
		t.Error("path-like name accepted")
	}
	// Gate from manifests when no held-out rows are given.
	g, err = s.PromoteIfBetter(ctx, "shop-intent", 2, nil)
	if err != nil || g.Promoted != (man2.Validation.Accuracy > man.Validation.Accuracy) {
		t.Errorf("manifest gate: %+v %v", g, err)
	}
}

func TestReport(t *testing.T) {
	m := &Model{labels: []string{"a", "b", "oos"}, oosLabel: 2}
	outs := []outcome{
		{truth: "a", pred: "a"},
		{truth: "a", pred: "b"},
		{truth: "b", pred: "b"},
		{truth: "b", pred: "oos", rejected: true},
		{truth: "oos", pred: "oos", rejected: true},
		{truth: "oos", pred: "a"},
		{truth: "new", pred: "oos", rejected: true},
	}
	r := buildReport(m, outs)
	want := &Report{
		N: 7, Accuracy: 3.0 / 7, InScopeAccuracy: 0.5, OOSRecall: 2.0 / 3, OOSCount: 3, RejectRate: 0.25,
		Labels: []string{"a", "b", "new", "oos"},
		Matrix: [][]int{{1, 1, 0, 0}, {0, 1, 0, 1}, {0, 0, 0, 1}, {1, 0, 0, 1}},
		PerLabel: []LabelMetrics{
			{Label: "a", Precision: 0.5, Recall: 0.5, F1: 0.5, Support: 2},
			{Label: "b", Precision: 0.5, Recall: 0.5, F1: 0.5, Support: 2},
			{Label: "new", Support: 1},
			{Label: "oos", Precision: 1.0 / 3, Recall: 0.5, F1: 0.4, Support: 2},
		},
		TopConfusions: []Confusion{{"a", "b", 1}, {"b", "oos", 1}, {"new", "oos", 1}, {"oos", "a", 1}},
		OOSName:       "oos",
		MacroF1:       (0.5 + 0.5 + 0 + 0.4) / 4,
	}
	if d := cmp.Diff(want, r, cmpFloat); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	var tb strings.Builder
	if err := r.WriteTable(&tb); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"accuracy", "0.4286", "out-of-scope recall", "new   oos"} {
		if !strings.Contains(tb.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, tb.String())
		}
	}
	var sb strings.Builder
	if err := r.WriteSVG(&sb); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(sb.String()))
	rects := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if rects != 2+7 { // background, frame, one per non-zero cell
		t.Errorf("SVG has %d rects, want 9", rects)
	}
}

var cmpFloat = cmp.Comparer(func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 })
