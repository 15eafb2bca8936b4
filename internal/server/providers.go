package server

import (
	"switchyard/internal/provider"
	"switchyard/internal/provider/local"
	"switchyard/internal/provider/openai"
)

// registerBuiltins lists every provider kind compiled into the binary.
// Adding a kind is one new package and one line here.
func registerBuiltins(r *provider.Registry) {
	r.Register(openai.Kind, openai.New)
	r.Register(local.Kind, local.New)
}
