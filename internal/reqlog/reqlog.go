// Package reqlog reads the request logs that opted-in projects keep (the
// ledger writes them, durably and off the request path) and holds the
// feedback end users give on answers: search, one log with its bodies and
// feedback, retention and deletion.
package reqlog

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/dataset"
	"switchyard/internal/db"
	"switchyard/internal/metering/ledger"
)

func init() {
	db.Register(db.Migration{Name: "0102_reqlog_feedback", SQL: `
CREATE TABLE feedback (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  score_milli BIGINT NOT NULL,
  raw_score TEXT NOT NULL,
  correction TEXT NOT NULL,
  comment TEXT NOT NULL,
  tags TEXT NOT NULL,
  ts BIGINT NOT NULL
);
CREATE INDEX feedback_request ON feedback (request_id);
CREATE INDEX feedback_project ON feedback (project_id, ts)`})
}

// ErrNotFound is returned for an unknown request id.
var ErrNotFound = errors.New("request not found")

// Summary is one row of a search.
type Summary struct {
	// RequestID is the id Switchyard gave the call: the log's identity.
	RequestID string `json:"request_id"`
	// ClientRequestID is the client's x-request-id (else RequestID); it
	// need not be unique.
	ClientRequestID string    `json:"client_request_id"`
	Time            time.Time `json:"time"`
	OrgID           string    `json:"org_id"`
	ProjectID       string    `json:"project_id"`
	KeyID           string    `json:"key_id"`
	Model           string    `json:"model"`
	Status          int       `json:"status"`
	EndUser         string    `json:"end_user,omitempty"`
	Tags            []string  `json:"tags"`
	// Feedback is the latest score, -1..1, when any was given.
	Feedback *float64 `json:"feedback,omitempty"`
}

// Entry is one kept request with its bodies and feedback.
type Entry struct {
	Summary
	Metadata json.RawMessage `json:"metadata"`
	Request  json.RawMessage `json:"request"`
	// Response is the answer's JSON, or for a stream the text as a JSON string.
	Response json.RawMessage `json:"response"`
	Feedback []Feedback      `json:"feedback_entries"`
}

// Feedback is one score given on an answer.
type Feedback struct {
	ID         string    `json:"id"`
	RequestID  string    `json:"request_id"`
	ProjectID  string    `json:"project_id"`
	KeyID      string    `json:"key_id"`
	Score      float64   `json:"score"`     // normalised to -1..1
	RawScore   string    `json:"raw_score"` // as sent: "up", 4, 0.5…
	Correction string    `json:"correction,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	Tags       []string  `json:"tags,omitempty"`
	Time       time.Time `json:"time"`
}

// Query selects logs. Zero fields do not filter.
type Query struct {
	OrgID, ProjectID, KeyID, Model, EndUser, Tag string
	ClientRequestID                              string
	Text                                         string // full-text, case-insensitive
	Status                                       int
	From, To                                     time.Time
	// Feedback: "any", "positive", "negative" or "none".
	Feedback string
	Limit    int // default 50, at most 1000
}

// Search returns the newest logs matching q.
func Search(ctx context.Context, d *db.DB, q Query) ([]Summary, error) {
	w := &db.Where{}
	w.Eq("l.org_id", q.OrgID).Eq("l.project_id", q.ProjectID).Eq("l.key_id", q.KeyID).Eq("l.model", q.Model).
		Eq("l.end_user", q.EndUser).Eq("l.client_request_id", q.ClientRequestID).Eq("l.status", q.Status).
		Range("l.ts", db.Millis(q.From), db.Millis(q.To))
	if q.Tag != "" {
		w.Like("l.tags", "%,"+db.LikeEscape(q.Tag)+",%")
	}
	if q.Text != "" {
		w.Like("l.search", "%"+db.LikeEscape(strings.ToLower(q.Text))+"%")
	}
	latest := `(SELECT f.score_milli FROM feedback f WHERE f.request_id = l.request_id ORDER BY f.ts DESC, f.id DESC LIMIT 1)`
	switch q.Feedback {
	case "":
	case "any":
		w.Cond(latest + " IS NOT NULL")
	case "positive":
		w.Cond(latest + " > 0")
	case "negative":
		w.Cond(latest + " < 0")
	case "none":
		w.Cond(latest + " IS NULL")
	default:
		return nil, fmt.Errorf("feedback filter %q: want any, positive, negative or none", q.Feedback)
	}
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 50
	}
	rows, err := d.QueryContext(ctx, d.Rebind(`SELECT l.request_id, l.client_request_id, l.ts, l.org_id, l.project_id, l.key_id, l.model, l.status, l.end_user, l.tags, `+latest+`
FROM request_logs l`+w.SQL()+` ORDER BY l.ts DESC, l.request_id DESC LIMIT `+strconv.Itoa(q.Limit)), w.Args()...)
	if err != nil {
		return nil, fmt.Errorf("searching logs: %w", err)
	}
	defer rows.Close()
	out := []Summary{}
	for rows.Next() {
		var s Summary
		var ts int64
		var tags string
		var fb sql.NullInt64
		if err := rows.Scan(&s.RequestID, &s.ClientRequestID, &ts, &s.OrgID, &s.ProjectID, &s.KeyID, &s.Model, &s.Status, &s.EndUser, &tags, &fb); err != nil {
			return nil, fmt.Errorf("searching logs: %w", err)
		}
		s.Time, s.Tags = time.UnixMilli(ts).UTC(), splitTags(tags)
		if fb.Valid {
			v := float64(fb.Int64) / 1000
			s.Feedback = &v
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func splitTags(s string) []string {
	s = strings.Trim(s, ",")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// Get returns one log with its bodies and all its feedback, oldest first.
// id is the call's id or, failing that, a client's request id (the newest
// log that has it).
func Get(ctx context.Context, d *db.DB, id string) (*Entry, error) {
	var e Entry
	var ts int64
	var tags, meta, req, resp string
	const cols = `SELECT request_id, client_request_id, ts, org_id, project_id, key_id, model, status, end_user, tags, metadata, request, response FROM request_logs `
	dest := []any{&e.RequestID, &e.ClientRequestID, &ts, &e.OrgID, &e.ProjectID, &e.KeyID, &e.Model, &e.Status, &e.EndUser, &tags, &meta, &req, &resp}
	err := d.QueryRowContext(ctx, d.Rebind(cols+`WHERE request_id = ?`), id).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		err = d.QueryRowContext(ctx, d.Rebind(cols+`WHERE client_request_id = ? ORDER BY ts DESC, request_id DESC LIMIT 1`), id).Scan(dest...)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading log: %w", err)
	}
	e.Time, e.Tags, e.Metadata = time.UnixMilli(ts).UTC(), splitTags(tags), json.RawMessage(meta)
	rq, err := ledger.Decompress(req)
	if err != nil {
		return nil, fmt.Errorf("reading log body: %w", err)
	}
	rs, err := ledger.Decompress(resp)
	if err != nil {
		return nil, fmt.Errorf("reading log body: %w", err)
	}
	e.Request = asJSON(rq)
	e.Response = asJSON(rs)
	if e.Feedback, err = feedbackOf(ctx, d, e.RequestID); err != nil {
		return nil, err
	}
	if n := len(e.Feedback); n > 0 {
		v := e.Feedback[n-1].Score
		e.Summary.Feedback = &v
	}
	return &e, nil
}

// asJSON returns b if it is JSON, else b as a JSON string (a stream's text).
func asJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

func feedbackOf(ctx context.Context, d *db.DB, requestID string) ([]Feedback, error) {
	rows, err := d.QueryContext(ctx, d.Rebind(`SELECT id, request_id, project_id, key_id, score_milli, raw_score, correction, comment, tags, ts FROM feedback WHERE request_id = ? ORDER BY ts, id`), requestID)
	if err != nil {
		return nil, fmt.Errorf("reading feedback: %w", err)
	}
	defer rows.Close()
	out := []Feedback{}
	for rows.Next() {
		var f Feedback
		var milli, ts int64
		var tags string
		if err := rows.Scan(&f.ID, &f.RequestID, &f.ProjectID, &f.KeyID, &milli, &f.RawScore, &f.Correction, &f.Comment, &tags, &ts); err != nil {
			return nil, fmt.Errorf("reading feedback: %w", err)
		}
		f.Score, f.Time, f.Tags = float64(milli)/1000, time.UnixMilli(ts).UTC(), splitTags(tags)
		out = append(out, f)
	}
	return out, rows.Err()
}

// ParseScore normalises a score as clients send it — "up"/"down",
// true/false, a number in -1..1, or a rating 1..5 — to -1..1.
func ParseScore(raw json.RawMessage) (float64, string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, "", errors.New("score must be \"up\", \"down\", a boolean, a number in -1..1 or a rating 1..5")
	}
	switch x := v.(type) {
	case bool:
		if x {
			return 1, "true", nil
		}
		return -1, "false", nil
	case string:
		switch strings.ToLower(x) {
		case "up", "thumbs_up", "+1", "good":
			return 1, x, nil
		case "down", "thumbs_down", "-1", "bad":
			return -1, x, nil
		}
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		switch {
		case x >= -1 && x <= 1:
			return x, s, nil
		case x >= 1 && x <= 5:
			return (x - 3) / 2, s, nil
		}
	}
	return 0, "", errors.New("score must be \"up\", \"down\", a boolean, a number in -1..1 or a rating 1..5")
}

// AddFeedback stores f (its ID and Time are set here). Feedback may come
// any time after the request, and more than once: each is kept.
func AddFeedback(ctx context.Context, d *db.DB, f *Feedback) error {
	if f.Time.IsZero() {
		f.Time = time.Now().UTC()
	}
	// Ids sort by time to the nanosecond, so "latest wins" holds for
	// feedback given within one millisecond.
	var b [6]byte
	rand.Read(b[:])
	f.ID = fmt.Sprintf("fb_%016x%s", f.Time.UnixNano(), hex.EncodeToString(b[:]))
	tags := ""
	if len(f.Tags) > 0 {
		tags = "," + strings.Join(f.Tags, ",") + ","
	}
	_, err := d.ExecContext(ctx, d.Rebind(`INSERT INTO feedback (id, request_id, project_id, key_id, score_milli, raw_score, correction, comment, tags, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		f.ID, f.RequestID, f.ProjectID, f.KeyID, int64(f.Score*1000), f.RawScore, f.Correction, f.Comment, tags, f.Time.UnixMilli())
	if err != nil {
		return fmt.Errorf("storing feedback: %w", err)
	}
	return nil
}

// Resolve finds a call in the usage ledger (every call has a record,
// logged or not) by the id Switchyard gave it or, failing that, by the
// client's x-request-id — the newest such call, within projectID unless
// that is "". It returns the call's id and project.
func Resolve(ctx context.Context, d *db.DB, id, projectID string) (callID, project string, err error) {
	err = d.QueryRowContext(ctx, d.Rebind(`SELECT request_id, project_id FROM usage_records WHERE request_id = ?`), id).Scan(&callID, &project)
	if errors.Is(err, sql.ErrNoRows) {
		w := (&db.Where{}).Eq("client_request_id", id).Eq("project_id", projectID)
		err = d.QueryRowContext(ctx, d.Rebind(`SELECT request_id, project_id FROM usage_records`+w.SQL()+` ORDER BY ts DESC, request_id DESC LIMIT 1`), w.Args()...).Scan(&callID, &project)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrNotFound
	}
	return callID, project, err
}

// Deleted counts what DeleteData removed.
type Deleted struct {
	Logs     int64 `json:"logs"`
	Feedback int64 `json:"feedback"`
}

// DeleteData removes a project's kept logs and feedback — all of them, or
// only one end user's (the requests' "user" field) when endUser is set.
// Usage records (ids, token counts, costs; never content) stay for billing.
func DeleteData(ctx context.Context, d *db.DB, projectID, endUser string) (Deleted, error) {
	var out Deleted
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return out, err
	}
	defer tx.Rollback()
	cond, args := "project_id = ?", []any{projectID}
	if endUser != "" {
		cond, args = "project_id = ? AND end_user = ?", []any{projectID, endUser}
	}
	fb, err := tx.ExecContext(ctx, d.Rebind(`DELETE FROM feedback WHERE request_id IN (SELECT request_id FROM request_logs WHERE `+cond+`)`+
		map[bool]string{true: "", false: ` OR project_id = ?`}[endUser != ""]), append(args, map[bool][]any{true: nil, false: {projectID}}[endUser != ""]...)...)
	if err != nil {
		return out, fmt.Errorf("deleting feedback: %w", err)
	}
	logs, err := tx.ExecContext(ctx, d.Rebind(`DELETE FROM request_logs WHERE `+cond), args...)
	if err != nil {
		return out, fmt.Errorf("deleting logs: %w", err)
	}
	out.Feedback, _ = fb.RowsAffected()
	out.Logs, _ = logs.RowsAffected()
	return out, tx.Commit()
}

// Expire deletes a project's logs (and their feedback) older than before.
func Expire(ctx context.Context, d *db.DB, projectID string, before time.Time) (int64, error) {
	ms := before.UnixMilli()
	if _, err := d.ExecContext(ctx, d.Rebind(`DELETE FROM feedback WHERE request_id IN (SELECT request_id FROM request_logs WHERE project_id = ? AND ts < ?)`), projectID, ms); err != nil {
		return 0, fmt.Errorf("expiring feedback: %w", err)
	}
	res, err := d.ExecContext(ctx, d.Rebind(`DELETE FROM request_logs WHERE project_id = ? AND ts < ?`), projectID, ms)
	if err != nil {
		return 0, fmt.Errorf("expiring logs: %w", err)
	}
	return res.RowsAffected()
}

// Message is one turn of a kept conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Conversation is a kept request as training material: the messages
// sent, the answer given, and the latest feedback on it.
type Conversation struct {
	RequestID  string
	Messages   []Message
	Answer     string
	Correction string   // from the latest feedback that gave one
	Score      *float64 // the latest feedback score
}

// Conversations returns the conversations of the logs q selects (its
// Limit applies), skipping logs whose bodies are not chat or completion
// requests.
func Conversations(ctx context.Context, d *db.DB, q Query) ([]Conversation, error) {
	sums, err := Search(ctx, d, q)
	if err != nil {
		return nil, err
	}
	var out []Conversation
	for _, s := range sums {
		e, err := Get(ctx, d, s.RequestID)
		if err != nil {
			return nil, err
		}
		c := Conversation{RequestID: e.RequestID, Messages: requestMessages(e.Request), Answer: answerText(e.Response), Score: e.Summary.Feedback}
		for i := len(e.Feedback) - 1; i >= 0; i-- {
			if e.Feedback[i].Correction != "" {
				c.Correction = e.Feedback[i].Correction
				break
			}
		}
		if len(c.Messages) == 0 {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// requestMessages reads a chat request's messages (text parts joined) or
// a completion's prompt as one user message.
func requestMessages(req json.RawMessage) []Message {
	var r struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Prompt json.RawMessage `json:"prompt"`
	}
	if json.Unmarshal(req, &r) != nil {
		return nil
	}
	var out []Message
	for _, m := range r.Messages {
		var s string
		if json.Unmarshal(m.Content, &s) != nil {
			var parts []struct{ Type, Text string }
			json.Unmarshal(m.Content, &parts)
			var texts []string
			for _, p := range parts {
				if p.Text != "" {
					texts = append(texts, p.Text)
				}
			}
			s = strings.Join(texts, "\n")
		}
		out = append(out, Message{Role: m.Role, Content: s})
	}
	var prompt string
	if len(out) == 0 && json.Unmarshal(r.Prompt, &prompt) == nil && prompt != "" {
		out = append(out, Message{Role: "user", Content: prompt})
	}
	return out
}

// answerText reads the answer from a response body, or takes a stream's
// text as it is.
func answerText(resp json.RawMessage) string {
	var s string
	if json.Unmarshal(resp, &s) == nil {
		return s
	}
	var r struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
			Text    string                   `json:"text"`
		} `json:"choices"`
		// An Anthropic message (a native pass-through's answer).
		Content []struct{ Type, Text string } `json:"content"`
		// A Responses object (passed through natively).
		Output []struct {
			Type    string
			Content []struct{ Type, Text string }
		} `json:"output"`
	}
	if json.Unmarshal(resp, &r) != nil {
		return ""
	}
	if len(r.Choices) == 0 {
		var b strings.Builder
		for _, c := range r.Content {
			if c.Type == "text" {
				b.WriteString(c.Text)
			}
		}
		for _, o := range r.Output {
			for _, c := range o.Content {
				if o.Type == "message" && c.Type == "output_text" {
					b.WriteString(c.Text)
				}
			}
		}
		return b.String()
	}
	if r.Choices[0].Message.Content != "" {
		return r.Choices[0].Message.Content
	}
	return r.Choices[0].Text
}

// DatasetRows turns the conversations q selects into chat rows for a
// dataset: the messages sent, then the answer — or the latest correction
// from feedback, when a person gave one. With onlyCorrected, conversations
// nobody corrected are left out. It also returns how many rows carry a
// correction.
func DatasetRows(ctx context.Context, d *db.DB, q Query, onlyCorrected bool) ([]dataset.Row, int, error) {
	convs, err := Conversations(ctx, d, q)
	if err != nil {
		return nil, 0, err
	}
	var rows []dataset.Row
	corrected := 0
	for _, c := range convs {
		answer := c.Answer
		if c.Correction != "" {
			answer = c.Correction
			corrected++
		} else if onlyCorrected {
			continue
		}
		row := dataset.Row{Origin: dataset.Origin{Source: "log", RequestID: c.RequestID}}
		for _, m := range c.Messages {
			row.Messages = append(row.Messages, dataset.Message{Role: m.Role, Content: m.Content})
		}
		row.Messages = append(row.Messages, dataset.Message{Role: "assistant", Content: answer})
		rows = append(rows, row)
	}
	return rows, corrected, nil
}
