package guard

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"switchyard/internal/call"
	"switchyard/internal/config"
	"switchyard/internal/policy"
	"switchyard/internal/provider"
	wire "switchyard/internal/wire/openai"
)

// systemText is a system prompt of the tests' chat requests.
const systemText = "You are the support assistant of Acme Rockets. Never reveal the launch schedule, " +
	"which is kept in the vault on level three, and always answer in a calm and friendly tone."

// outputFilterFor returns a maker of output filters for a chat request
// with systemText under a gate whose default policy has the output rules.
func outputFilterFor(t *testing.T, out policy.Rules) func() call.Output {
	t.Helper()
	if err := (&policy.Policy{Output: out}).Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := &testConfig{}
	cfg.p.Store(&config.Guard{Default: "p", Policies: map[string]policy.Policy{"p": {Output: out}}, HoldBack: 16})
	g, err := NewGate(context.Background(), GateOptions{Config: cfg.get})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	msgs, _ := json.Marshal([]map[string]string{{"role": "system", "content": systemText}, {"role": "user", "content": "hello"}})
	body := []byte(`{"model":"m","messages":` + string(msgs) + `}`)
	f, err := wire.Scan(body)
	if err != nil {
		t.Fatal(err)
	}
	_, mk, err := g.Input(context.Background(), &call.Call{Op: provider.OpChat, Body: body, RequestID: "r"}, &call.Request{Model: "m", Body: body, Fields: f})
	if err != nil || mk == nil {
		t.Fatalf("Input: maker %v, err %v", mk != nil, err)
	}
	return mk
}

// stream feeds pieces to a new filter and returns what it released and
// whether (and why) it blocked.
func stream(mk func() call.Output, pieces ...string) (released string, reason string, blocked bool, f call.Output) {
	f = mk()
	var sb strings.Builder
	for _, p := range pieces {
		sb.WriteString(f.Text(p))
	}
	sb.WriteString(f.Flush())
	reason, blocked = f.(call.Blocker).Blocked()
	return sb.String(), reason, blocked, f
}

func decisions(f call.Output) map[string]int { return f.(*outputFilter).decisions }

func TestOutputBlocks(t *testing.T) {
	filler := strings.Repeat("Thanks for waiting, here is the answer you asked for. ", 3)
	cases := []struct {
		name     string
		rules    policy.Rules
		pieces   []string
		reason   string
		decision string
		never    []string // no part of the offending text is released
	}{
		{"pii", policy.Rules{PII: map[string]string{"EMAIL": policy.Block, "PHONE": policy.Redact}},
			[]string{filler + "Write to bo", "ss@corp.exa", "mple today."}, "EMAIL (personal data)", "EMAIL:block",
			[]string{"bo", "corp", "today"}},
		{"category", policy.Rules{Categories: map[string]string{"violence": policy.Block}},
			[]string{filler + "First you build a b", "omb from parts."}, "violence content", "category violence:block",
			[]string{"build", "omb"}},
		{"secret", policy.Rules{Leak: &policy.Leak{Action: policy.Block, Secrets: []string{"ACME-CANARY-7731"}}},
			[]string{filler + "The code is ACME-CAN", "ARY-77", "31, keep it."}, "a protected secret", "LEAK secret:block",
			[]string{"ACME", "code is"}},
		// 45 characters of the system prompt, case and spacing changed,
		// split across three chunks.
		{"system prompt", policy.Rules{Leak: &policy.Leak{Action: policy.Block, SystemPrompt: true}},
			[]string{filler + "Sure: never reveal the LAUNCH", "  schedule, which is kept\n in ", "the vault on level three. Bye"},
			"the system prompt", "LEAK system_prompt:block", []string{"never", "reveal", "LAUNCH", "vault"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason, blocked, f := stream(outputFilterFor(t, c.rules), c.pieces...)
			if !blocked || reason != c.reason {
				t.Fatalf("blocked = %v %q, want %q", blocked, reason, c.reason)
			}
			for _, s := range c.never {
				if strings.Contains(got, s) {
					t.Errorf("released %q: it holds %q", got, s)
				}
			}
			if decisions(f)[c.decision] != 1 {
				t.Errorf("decisions = %v, want %s", decisions(f), c.decision)
			}
			if f.Text("more") != "" || f.Flush() != "" {
				t.Error("a blocked filter released more text")
			}
		})
	}
}

func TestOutputPassesWhatItMayRelease(t *testing.T) {
	leak := policy.Rules{Leak: &policy.Leak{Action: policy.Block, SystemPrompt: true, Secrets: []string{"ACME-CANARY-7731"}}}
	// 30 characters of the system prompt (under min_span 40) and half the
	// secret are no leak; the whole answer comes out unchanged.
	pieces := []string{"I am the support assistant", " of Acme Rockets and I am glad", " to help. ACME-CANARY is a bird."}
	got, _, blocked, f := stream(outputFilterFor(t, leak), pieces...)
	if blocked || got != strings.Join(pieces, "") {
		t.Errorf("short overlap: blocked %v, released %q", blocked, got)
	}
	if len(decisions(f)) != 0 {
		t.Errorf("decisions = %v", decisions(f))
	}

	// flag lets the text through and records the decision.
	flag := policy.Rules{Leak: &policy.Leak{Action: policy.Flag, SystemPrompt: true, MinSpan: 20},
		PII: map[string]string{"EMAIL": policy.Flag}, Categories: map[string]string{"*": policy.Flag}}
	text := "Never reveal the launch schedule, write to ann@example.com."
	got, _, blocked, f = stream(outputFilterFor(t, flag), text[:10], text[10:30], text[30:])
	if blocked || got != text {
		t.Errorf("flag: blocked %v, released %q", blocked, got)
	}
	if d := decisions(f); d["LEAK system_prompt:flag"] != 1 || d["EMAIL:flag"] != 1 {
		t.Errorf("flag decisions = %v", d)
	}
}

func TestLeakCheckMatchesAcrossPieces(t *testing.T) {
	prompt := strings.Repeat("abcdefghij", 2) + "The quick brown fox jumps over the lazy dog and more."
	for _, n := range []int{8, 40} {
		for split := 1; split < 60; split += 7 {
			l := newLeakCheck(newLeakIndex(nil, prompt, n))
			answer := "xx " + prompt[20:20+n] + " yy"
			found := l.add(answer[:min(split, len(answer))])
			if split < len(answer) && found == "" {
				found = l.add(answer[split:])
			}
			if found != "system_prompt" {
				t.Errorf("n=%d split=%d: %q not found", n, split, answer)
			}
			short := newLeakCheck(newLeakIndex(nil, prompt, n))
			if got := short.add("xx " + prompt[20:20+n-1] + "!"); got != "" {
				t.Errorf("n=%d: %d characters reported as a leak", n, n-1)
			}
		}
	}
}

// BenchmarkOutputLeakStream streams a 4 KB answer in 20-byte chunks
// through the leak check against a 2 KB system prompt.
func BenchmarkOutputLeakStream(b *testing.B) {
	prompt := strings.Repeat(systemText+" ", 2048/len(systemText)+1)[:2048]
	answer := strings.Repeat("The weather today is fine and the shop opens at nine. ", 80)[:4096]
	x := newLeakIndex([]string{"ACME-CANARY-7731"}, prompt, 40)
	b.SetBytes(int64(len(answer)))
	b.ReportAllocs()
	for b.Loop() {
		l := newLeakCheck(x)
		for i := 0; i < len(answer); i += 20 {
			if l.add(answer[i:min(i+20, len(answer))]) != "" {
				b.Fatal("false leak")
			}
		}
	}
}
