package reqlog

import "testing"

func TestAnswerTextOfEveryShape(t *testing.T) {
	for body, want := range map[string]string{
		`"streamed text"`: "streamed text",
		`{"choices":[{"message":{"role":"assistant","content":"chat"}}]}`:                                                           "chat",
		`{"choices":[{"text":"completion"}]}`:                                                                                       "completion",
		`{"type":"message","content":[{"type":"thinking","thinking":"x"},{"type":"text","text":"claude"}]}`:                         "claude",
		`{"object":"response","output":[{"type":"reasoning"},{"type":"message","content":[{"type":"output_text","text":"resp"}]}]}`: "resp",
		`not json`: "",
	} {
		if got := answerText([]byte(body)); got != want {
			t.Errorf("answerText(%s) = %q, want %q", body, got, want)
		}
	}
}
