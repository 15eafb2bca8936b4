package call_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDomainsDoNotReachUp checks the layering the README's architecture
// section draws: no domain package (nor package call, which they share
// with the gateway) depends, directly or not, on a package above it.
func TestDomainsDoNotReachUp(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found: ", err)
	}
	above := []string{"switchyard/internal/gateway", "switchyard/internal/server", "switchyard/internal/console", "switchyard/internal/router"}
	domains := []string{"call", "metering/...", "guard/...", "tenancy/...", "limits/...", "reqlog/...", "dataset/...", "audit/...", "specialist/..."}
	for _, d := range domains {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "switchyard/internal/"+d).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", d, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, a := range above {
				if dep == a {
					t.Errorf("%s depends on %s", d, a)
				}
			}
		}
	}
}
