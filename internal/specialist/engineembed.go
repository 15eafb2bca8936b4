package specialist

import (
	"context"
	"fmt"

	"switchyard/internal/engine"
)

// EngineEmbedder embeds texts with a local GGUF model through the engine
// (mean-pooled hidden states), so a specialist can combine its n-gram
// features with sentence embeddings.
type EngineEmbedder struct {
	Path  string
	model *engine.Model
}

// OpenEngineEmbedder loads the GGUF model at path for embedding.
func OpenEngineEmbedder(path string) (*EngineEmbedder, error) {
	m, err := engine.Load(path, engine.Options{Context: 512})
	if err != nil {
		return nil, fmt.Errorf("embedding model: %w", err)
	}
	return &EngineEmbedder{Path: path, model: m}, nil
}

// Embed implements Embedder.
func (e *EngineEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	v, _, err := e.model.Embed(ctx, texts)
	return v, err
}

// Close releases the model.
func (e *EngineEmbedder) Close() error { return e.model.Close() }
