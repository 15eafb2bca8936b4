package dataset

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Export formats.
const (
	ExportOpenAIChat           = "openai-chat"            // {"messages":[…]} per line, for chat fine-tuning
	ExportDPO                  = "dpo"                    // OpenAI preference fine-tuning lines
	ExportPromptChosenRejected = "prompt-chosen-rejected" // {"prompt","chosen","rejected"} per line
	ExportClassificationCSV    = "classification-csv"     // text,label with a header, for the specialist trainer
	ExportEvalJSONL            = "eval-jsonl"             // {"input","reference"} per line
)

// ExportFormats lists the formats Export writes.
var ExportFormats = []string{ExportOpenAIChat, ExportDPO, ExportPromptChosenRejected, ExportClassificationCSV, ExportEvalJSONL}

// errSkip means a row has nothing to give to the format.
var errSkip = errors.New("row does not fit the format")

// chat turns a row into chat messages: its own, or a user prompt and the
// answer (Chosen, Reference, or the label).
func (r *Row) chat() []Message {
	if len(r.Messages) > 0 {
		return r.Messages
	}
	in, ans := r.input(), r.answer()
	if in == "" || ans == "" {
		return nil
	}
	return []Message{{Role: "user", Content: in}, {Role: "assistant", Content: ans}}
}

// input is the row's prompt: Prompt, Text, or the chat up to the last
// user message.
func (r *Row) input() string {
	switch {
	case r.Prompt != "":
		return r.Prompt
	case r.Text != "":
		return r.Text
	}
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i].Content
		}
	}
	return ""
}

// answer is the expected output: Chosen, Reference, the label, or the
// last assistant message.
func (r *Row) answer() string {
	switch {
	case r.Chosen != "":
		return r.Chosen
	case r.Reference != "":
		return r.Reference
	case r.Label != "":
		return r.Label
	}
	if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == "assistant" {
		return r.Messages[n-1].Content
	}
	return ""
}

// Export writes a version's rows in the given format and returns how many
// it wrote; rows the format cannot hold (a classification row with no
// label, a preference export of a row with no pair) are skipped. progress,
// when not nil, is called every 1,000 rows and at the end.
func (s *Store) Export(ctx context.Context, versionID string, format string, w io.Writer, progress func(done, total int)) (int, error) {
	v, err := s.Version(ctx, versionID)
	if err != nil {
		return 0, err
	}
	enc, err := encoder(format)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var cw *csv.Writer
	if format == ExportClassificationCSV {
		cw = csv.NewWriter(bw)
		if err := cw.Write([]string{"text", "label"}); err != nil {
			return 0, fmt.Errorf("writing: %w", err)
		}
	}
	written := 0
	err = s.EachRow(ctx, v.ID, func(idx int, r Row) error {
		if cw != nil {
			if r.Label != "" && r.input() != "" {
				if err := cw.Write([]string{r.input(), r.Label}); err != nil {
					return fmt.Errorf("writing: %w", err)
				}
				written++
			}
		} else {
			line, err := enc(&r)
			if err == nil {
				bw.Write(line)
				if err := bw.WriteByte('\n'); err != nil {
					return fmt.Errorf("writing: %w", err)
				}
				written++
			} else if !errors.Is(err, errSkip) {
				return err
			}
		}
		if progress != nil && (idx+1)%1000 == 0 {
			progress(idx+1, v.RowCount)
		}
		return ctx.Err()
	})
	if err != nil {
		return written, err
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return written, fmt.Errorf("writing: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return written, fmt.Errorf("writing: %w", err)
	}
	if progress != nil {
		progress(v.RowCount, v.RowCount)
	}
	return written, nil
}

func encoder(format string) (func(*Row) ([]byte, error), error) {
	switch format {
	case ExportOpenAIChat:
		return func(r *Row) ([]byte, error) {
			ms := r.chat()
			if len(ms) == 0 {
				return nil, errSkip
			}
			return json.Marshal(struct {
				Messages []Message `json:"messages"`
			}{ms})
		}, nil
	case ExportDPO:
		type msgs = []Message
		return func(r *Row) ([]byte, error) {
			p, c, rj := r.pair()
			if p == nil {
				return nil, errSkip
			}
			var v struct {
				Input struct {
					Messages msgs `json:"messages"`
				} `json:"input"`
				Preferred    msgs `json:"preferred_output"`
				NonPreferred msgs `json:"non_preferred_output"`
			}
			v.Input.Messages = p
			v.Preferred = msgs{{Role: "assistant", Content: c}}
			v.NonPreferred = msgs{{Role: "assistant", Content: rj}}
			return json.Marshal(v)
		}, nil
	case ExportPromptChosenRejected:
		return func(r *Row) ([]byte, error) {
			p, c, rj := r.pair()
			if p == nil {
				return nil, errSkip
			}
			return json.Marshal(map[string]string{"prompt": promptText(p), "chosen": c, "rejected": rj})
		}, nil
	case ExportEvalJSONL:
		return func(r *Row) ([]byte, error) {
			in, ref := r.input(), r.answer()
			if in == "" || ref == "" {
				return nil, errSkip
			}
			return json.Marshal(map[string]string{"input": in, "reference": ref})
		}, nil
	case ExportClassificationCSV:
		return nil, nil
	}
	return nil, invalidf("unknown export format %q (want one of %s)", format, strings.Join(ExportFormats, ", "))
}

// pair returns a preference row's prompt messages and its two answers,
// or nil when the row is not a preference pair.
func (r *Row) pair() ([]Message, string, string) {
	if r.Chosen == "" || r.Rejected == "" {
		return nil, "", ""
	}
	if r.Prompt != "" {
		return []Message{{Role: "user", Content: r.Prompt}}, r.Chosen, r.Rejected
	}
	if len(r.Messages) > 0 {
		return r.Messages, r.Chosen, r.Rejected
	}
	return nil, "", ""
}

// promptText flattens prompt messages: one message's content, or
// "role: content" lines.
func promptText(ms []Message) string {
	if len(ms) == 1 {
		return ms[0].Content
	}
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(m.Role + ": " + m.Content)
	}
	return b.String()
}
