package server

import (
	"switchyard/internal/provider"
	"switchyard/internal/provider/anthropic"
	"switchyard/internal/provider/gemini"
	"switchyard/internal/provider/local"
	"switchyard/internal/provider/openai"
	"switchyard/internal/provider/preset"
	"switchyard/internal/provider/specialist"
)

// registerBuiltins lists every provider kind compiled into the binary.
// Adding a kind is one new package and one line here. dataDir is where
// local models named by `model:` live ("": the default).
func registerBuiltins(r *provider.Registry, dataDir string) {
	r.Register(openai.Kind, openai.New)
	r.Register(anthropic.Kind, anthropic.New)
	r.Register(gemini.Kind, gemini.New)
	r.Register(local.Kind, local.Factory(dataDir))
	r.Register(specialist.Kind, specialist.New(dataDir))
	preset.Register(r) // deepseek, qwen, azure, ollama, vllm, … (the openai provider with vendor defaults)
}

// BuiltinsIn is Builtins with local models and specialists found in
// dataDir (what a server with that data directory would use).
func BuiltinsIn(dataDir string) *provider.Registry { return builtins(dataDir) }
