package main

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestChat(t *testing.T) {
	src := storiesPath(t)
	defer func(r io.Reader) { stdin = r }(stdin)
	stdin = strings.NewReader("Once upon \\\na time\n\"\"\"\nTell me\na story\n\"\"\"\n/clear\n/exit\nnever read\n")
	code, out, errs := sy(t, "chat", "-m", src, "--max-tokens", "6", "--seed", "7", "--system", "Be brief.")
	if code != 0 {
		t.Fatalf("chat: %d %s", code, errs)
	}
	if replies := strings.Split(strings.TrimRight(out, "\n"), "\n"); len(out) == 0 || len(replies) < 2 {
		t.Errorf("want two streamed replies, got %q", out)
	}
	if n := strings.Count(errs, ">>> "); n != 4 || strings.Count(errs, "... ") != 4 || !strings.Contains(errs, "(conversation cleared)") {
		t.Errorf("prompts: %q", errs)
	}
	// The same seed gives the same conversation; EOF ends it.
	stdin = strings.NewReader("Once upon \\\na time\n\"\"\"\nTell me\na story\n\"\"\"\n")
	_, out2, _ := sy(t, "chat", "-m", src, "--max-tokens", "6", "--seed", "7", "--system", "Be brief.")
	if out2 != out {
		t.Errorf("seeded runs differ:\n%q\n%q", out, out2)
	}
	if code, _, errs := sy(t, "chat", "-m", "no-such-model", "--data-dir", t.TempDir()); code != 1 || !strings.Contains(errs, "model not found") {
		t.Errorf("missing model: %d %q", code, errs)
	}
}

func TestReadMessage(t *testing.T) {
	in := "a\nb \\\nc\n\"\"\"x\ny\nz\"\"\"\n\"\"\"one\"\"\"\ntail \\"
	var got []string
	sc := newScanner(in)
	for {
		m, ok := readMessage(sc, io.Discard)
		if !ok {
			break
		}
		got = append(got, m)
	}
	if diff := cmp.Diff([]string{"a", "b \nc", "x\ny\nz", "one", "tail "}, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func newScanner(s string) *bufio.Scanner { return bufio.NewScanner(strings.NewReader(s)) }
