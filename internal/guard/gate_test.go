package guard

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchyard/internal/call"
	"switchyard/internal/config"
	"switchyard/internal/provider"
	"switchyard/internal/specialist"
	wire "switchyard/internal/wire/openai"
)

// Texts the test specialists learn: each version calls a different one
// an injection.
const (
	textA = "purple banana zebra parade"
	textB = "quiet cherry lamp morning"
)

// promote trains a specialist that labels injection ("1") the texts like
// positive and not ("0") those like negative, adds it to the store in
// dataDir under "inj" and promotes it.
func promote(t *testing.T, dataDir, positive, negative string) int {
	t.Helper()
	var ex []specialist.Example
	for i := range 30 {
		ex = append(ex, specialist.Example{Text: fmt.Sprintf("%s %d", positive, i), Label: "1"},
			specialist.Example{Text: fmt.Sprintf("%s %d", negative, i), Label: "0"})
	}
	m, _, err := specialist.Train(context.Background(), ex, nil, specialist.Config{C: []float64{1}, CharWeights: []float32{1}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := specialist.OpenStore(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	man, err := st.Add("inj", m, specialist.Manifest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Promote("inj", man.Version); err != nil {
		t.Fatal(err)
	}
	return man.Version
}

// testConfig is a guard config a test may swap, as a reload does.
type testConfig struct{ p atomic.Pointer[config.Guard] }

func (c *testConfig) get() *config.Guard { return c.p.Load() }

// newTestGate starts a Gate over dataDir whose config names the "inj"
// specialist, and closes it at the end of the test.
func newTestGate(t *testing.T, dataDir string, interval time.Duration, wrap func(InjectionScorer) InjectionScorer) (*Gate, *testConfig) {
	t.Helper()
	cfg := &testConfig{}
	cfg.p.Store(&config.Guard{InjectionSpecialist: "inj", HoldBack: 64})
	g, err := NewGate(context.Background(), GateOptions{Config: cfg.get, DataDir: dataDir, Interval: interval, wrap: wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g, cfg
}

// byClassifier reports whether the gate's specialist flags text.
func byClassifier(t *testing.T, g *Gate, text string) bool {
	t.Helper()
	res, err := g.Check(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	return res.Injection.Flagged && slices.Contains(res.Injection.Rules, "classifier")
}

// chat is a guarded chat call with one user message.
func chat(t *testing.T, text string) (*call.Call, *call.Request) {
	t.Helper()
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"` + text + `"}]}`)
	f, err := wire.Scan(body)
	if err != nil {
		t.Fatal(err)
	}
	return &call.Call{Op: provider.OpChat, Body: body, RequestID: "r"}, &call.Request{Model: "m", Body: body, Fields: f}
}

// TestGateSwapsPromotedSpecialist: promoting a new version is picked up by
// the watcher and used by the next call, with no call in between: a
// request never loads a model.
func TestGateSwapsPromotedSpecialist(t *testing.T) {
	dir := t.TempDir()
	v1 := promote(t, dir, textA, textB)
	g, cfg := newTestGate(t, dir, 20*time.Millisecond, nil)
	if name, v := g.Specialist(); name != "inj" || v != v1 {
		t.Fatalf("at start the gate uses %s v%d, want inj v%d", name, v, v1)
	}
	if !byClassifier(t, g, textA) || byClassifier(t, g, textB) {
		t.Fatalf("v%d should flag %q only", v1, textA)
	}

	v2 := promote(t, dir, textB, textA)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, v := g.Specialist(); v == v2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("v%d not picked up within 10s without requests", v2)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !byClassifier(t, g, textB) || byClassifier(t, g, textA) {
		t.Errorf("after the swap v%d should flag %q only", v2, textB)
	}

	// Un-naming the specialist (a reload) goes back to the rules alone.
	cfg.p.Store(&config.Guard{HoldBack: 64})
	g.Refresh(context.Background())
	if name, v := g.Specialist(); name != "" || v != 0 || byClassifier(t, g, textB) {
		t.Errorf("with no specialist configured the gate uses %q v%d", name, v)
	}
}

// TestGateServesWhileLoading: while the watcher loads a new version (here
// held until the test lets it go), guarded calls go on with the scanner
// in use: no request waits for a model to load.
func TestGateServesWhileLoading(t *testing.T) {
	dir := t.TempDir()
	promote(t, dir, textA, textB)
	loading, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	loads := 0
	g, _ := newTestGate(t, dir, 10*time.Millisecond, func(s InjectionScorer) InjectionScorer {
		loads++ // only the watcher (or NewGate) loads, one at a time
		if loads > 1 {
			once.Do(func() { close(loading) })
			<-release
		}
		return s
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	promote(t, dir, textB, textA)
	select {
	case <-loading:
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher did not start loading the new version")
	}

	done := make(chan error, 8)
	for range 8 {
		c, r := chat(t, textA)
		go func() {
			_, _, err := g.Input(context.Background(), c, r)
			done <- err
		}()
	}
	for range 8 {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("input: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("guarded calls waited for the model being loaded")
		}
	}
	if !byClassifier(t, g, textA) {
		t.Error("during the load the version in use should still score")
	}
	close(release)
}

// barrierScorer holds every scoring call until n calls are inside it at
// once (or a generous timeout passes, counted as a failure).
type barrierScorer struct {
	InjectionScorer
	n        int
	mu       sync.Mutex
	inside   int
	all      chan struct{}
	timedOut bool
}

func (b *barrierScorer) ScoreInjectionContext(ctx context.Context, text string) (float64, []string) {
	b.mu.Lock()
	b.inside++
	if b.inside == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(10 * time.Second):
		b.mu.Lock()
		b.timedOut = true
		b.mu.Unlock()
	case <-ctx.Done():
	}
	return b.InjectionScorer.ScoreInjection(text)
}

// TestGateInputsRunConcurrently: two guarded calls are inside the
// injection scorer at the same time.
func TestGateInputsRunConcurrently(t *testing.T) {
	dir := t.TempDir()
	promote(t, dir, textA, textB)
	b := &barrierScorer{n: 2, all: make(chan struct{})}
	g, _ := newTestGate(t, dir, time.Hour, func(s InjectionScorer) InjectionScorer {
		b.InjectionScorer = s
		return b
	})
	var wg sync.WaitGroup
	for range 2 {
		c, r := chat(t, "hello "+textB)
		wg.Go(func() {
			if _, _, err := g.Input(context.Background(), c, r); err != nil {
				t.Errorf("input: %v", err)
			}
		})
	}
	wg.Wait()
	if b.timedOut {
		t.Error("the two calls did not reach the scorer together: guarded calls are serialised")
	}
}

// TestGateInputCanceled: a call whose client has gone is not scanned.
func TestGateInputCanceled(t *testing.T) {
	g, _ := newTestGate(t, t.TempDir(), time.Hour, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, r := chat(t, "mail ann@example.com")
	if _, _, err := g.Input(ctx, c, r); err == nil {
		t.Error("a canceled call was guarded as if live")
	}
}

// TestGateWatcherStops: the watcher ends with its context and with Close.
func TestGateWatcherStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := &config.Guard{}
	g, err := NewGate(ctx, GateOptions{Config: func() *config.Guard { return cfg }, DataDir: t.TempDir(), Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher outlived its context")
	}
	g.Close() // and Close after that is fine
	g.Close()
}
