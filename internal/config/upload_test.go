package config

import (
	"strings"
	"testing"
)

func TestMaxUploadBytesAndPassthrough(t *testing.T) {
	const base = "models:\n  - name: m\n    deployments: [{provider: openai}]\n"
	c, err := Parse("a.yaml", []byte(base), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.MaxUploadBytes != 32<<20 || c.Models[0].Passthrough {
		t.Errorf("defaults: max_upload_bytes %d, passthrough %v; want 32 MiB and false", c.Server.MaxUploadBytes, c.Models[0].Passthrough)
	}
	c, err = Parse("a.yaml", []byte("server: {max_upload_bytes: 1MiB}\nmodels:\n  - name: m\n    passthrough: true\n    deployments: [{provider: openai}]\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.MaxUploadBytes != 1<<20 || !c.Models[0].Passthrough {
		t.Errorf("set: max_upload_bytes %d, passthrough %v", c.Server.MaxUploadBytes, c.Models[0].Passthrough)
	}
	_, err = Parse("a.yaml", []byte("server: {max_upload_bytes: -1}\n"+base), env(nil))
	if err == nil || !strings.Contains(err.Error(), "server.max_upload_bytes") {
		t.Errorf("negative max_upload_bytes: %v", err)
	}
}
