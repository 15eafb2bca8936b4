package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"switchyard/internal/engine"
	"switchyard/internal/engine/chat"
)

// stdin is what chat reads; tests replace it.
var stdin io.Reader = os.Stdin

const chatDesc = `
Chat with a local model in the terminal, in-process (no server needed).
MODEL is a name in DATA_DIR/models (see 'models list') or a .gguf file.
The model's chat template formats the conversation; replies stream as they
are generated.

Input: a line ending in \ continues on the next line; a block between two
lines of """ is one message. /clear forgets the conversation; /exit or
end of input (Ctrl-D) quits.`

func cmdChat(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("chat", "chat -m MODEL [flags]", chatDesc, stdout)
	modelArg := fs.String("m", "", "model: a name in DATA_DIR/models or a .gguf file")
	system := fs.String("system", "", "system prompt")
	temp := fs.Float64("temperature", 0.8, "sampling temperature (0: greedy)")
	maxTokens := fs.Int("max-tokens", 512, "most tokens per reply")
	seed := fs.Int64("seed", -1, "sampling seed (-1: random)")
	ctxLen := fs.Int("context", 0, "context window (0: the model's, capped at 4096)")
	threads := fs.Int("threads", 0, "compute threads (0: all cores)")
	dataDir := dataDirFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *modelArg == "" || fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	path, err := resolveModel(*dataDir, *modelArg)
	if err != nil {
		return err
	}
	m, err := engine.Load(path, engine.Options{Context: *ctxLen, Threads: *threads})
	if err != nil {
		return err
	}
	defer m.Close()
	info := m.Info()
	fmt.Fprintf(stderr, "%s (%s, %s params, %s, context %d). /exit or Ctrl-D to quit.\n", *modelArg, info.Arch, humanCount(info.Params), info.FileType, info.Context)

	var history []chat.Message
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 64<<10), 1<<20)
	var n uint64
	for {
		text, ok := readMessage(in, stderr)
		if !ok || strings.TrimSpace(text) == "/exit" {
			return in.Err()
		}
		switch strings.TrimSpace(text) {
		case "":
			continue
		case "/clear":
			history = history[:0]
			fmt.Fprintln(stderr, "(conversation cleared)")
			continue
		}
		history = append(history, chat.Message{Role: "user", Content: text})
		req := engine.Request{MaxTokens: *maxTokens, Temperature: float32(*temp), TopP: 0.95, MinP: 0.05, RepeatPenalty: 1.1}
		if *seed >= 0 {
			s := uint64(*seed) + n // a different, reproducible stream per turn
			req.Seed = &s
		}
		n++
		reply, err := chatTurn(ctx, m, *system, &history, req, stdout)
		fmt.Fprintln(stdout)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			fmt.Fprintln(stderr, "error:", err)
			history = history[:len(history)-1]
			continue
		}
		history = append(history, chat.Message{Role: "assistant", Content: reply})
	}
}

// chatTurn answers the last message of history, streaming to w. When the
// conversation no longer fits the context it drops the oldest turns.
func chatTurn(ctx context.Context, m *engine.Model, system string, history *[]chat.Message, req engine.Request, w io.Writer) (string, error) {
	for {
		msgs := *history
		if system != "" {
			msgs = append([]chat.Message{{Role: "system", Content: system}}, msgs...)
		}
		prompt, err := m.ChatPrompt(msgs, nil)
		if err != nil {
			return "", err
		}
		req.Prompt = prompt
		var reply strings.Builder
		_, err = m.Generate(ctx, req, func(ev engine.Event) error {
			reply.WriteString(ev.Text)
			_, err := io.WriteString(w, ev.Text)
			return err
		})
		if errors.Is(err, engine.ErrContextOverflow) && len(*history) > 1 {
			*history = (*history)[min(2, len(*history)-1):] // drop the oldest exchange
			continue
		}
		return reply.String(), err
	}
}

// readMessage reads one message: a line, lines joined by a trailing \, or
// a block between lines of """. ok is false at the end of input.
func readMessage(in *bufio.Scanner, prompt io.Writer) (string, bool) {
	fmt.Fprint(prompt, ">>> ")
	var lines []string
	block := false
	for in.Scan() {
		line := in.Text()
		switch {
		case block:
			if rest, end := strings.CutSuffix(line, `"""`); end {
				return strings.Join(append(lines, rest), "\n"), true
			}
			lines = append(lines, line)
		case len(lines) == 0 && strings.HasPrefix(line, `"""`):
			rest := strings.TrimPrefix(line, `"""`)
			if body, end := strings.CutSuffix(rest, `"""`); end && rest != "" {
				return body, true // """one line"""
			}
			block = true
			if rest != "" {
				lines = append(lines, rest)
			}
		case strings.HasSuffix(line, `\`):
			lines = append(lines, strings.TrimSuffix(line, `\`))
		default:
			return strings.Join(append(lines, line), "\n"), true
		}
		fmt.Fprint(prompt, "... ")
	}
	if len(lines) > 0 {
		return strings.Join(lines, "\n"), true
	}
	return "", false
}
