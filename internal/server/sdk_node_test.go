package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"switchyard/internal/fakeai"
)

// nodeSDK finds node and the pinned SDKs in sdktest/node (installed by
// `npm ci` there, which .ci/run does). Outside CI a missing tool skips
// the test, saying why; in CI it fails.
func nodeSDK(t *testing.T) (node, dir string) {
	t.Helper()
	dir, err := filepath.Abs("../../sdktest/node")
	if err != nil {
		t.Fatal(err)
	}
	missing := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI runs these tests always; .ci/run installs them)", why)
		}
		t.Skip(why)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai", "package.json")); err != nil {
		missing("the Node SDKs are not installed: run `npm ci` in sdktest/node")
	}
	return node, dir
}

// runNode runs one conformance script against e's server and fails the
// test with the script's report when any of its cases failed.
func runNode(t *testing.T, e *env, script, model string) {
	t.Helper()
	node, dir := nodeSDK(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SWITCHYARD_BASE="+e.base, "SWITCHYARD_KEY="+adminKey, "SWITCHYARD_MODEL="+model)
	out, err := cmd.CombinedOutput()
	report := strings.TrimSpace(string(out))
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, report)
	}
	t.Logf("node %s:\n%s", script, report)
}

func TestNodeOpenAISDK(t *testing.T) {
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{AutoTools: true})
	e := start(t, oneModel("gpt-node", up.URL, ""))
	runNode(t, e, "openai.mjs", "gpt-node")
}

func TestNodeAnthropicSDK(t *testing.T) {
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{AutoTools: true})
	e := start(t, oneModel("claude-node", up.URL, ""))
	runNode(t, e, "anthropic.mjs", "claude-node")
}
