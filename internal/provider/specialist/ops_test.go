package specialist

import (
	"testing"

	"switchyard/internal/provider"
)

// TestSupportsOnlyClassifyAndChat: rerank, images, moderations, audio
// and passthrough never route to a specialist.
func TestSupportsOnlyClassifyAndChat(t *testing.T) {
	var c *Client
	for op := provider.OpChat; op <= provider.OpPassthrough; op++ {
		want := op == provider.OpClassify || op == provider.OpChat
		if got := provider.Supports(c, op); got != want {
			t.Errorf("Supports(%v) = %v, want %v", op, got, want)
		}
	}
}
