package guard

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"switchyard/internal/specialist"
)

// SpecialistScorer scores prompt injection with a trained specialist (a
// binary text classifier, e.g. trained on prompt_injection_deepset): the
// score is the probability of its positive label.
type SpecialistScorer struct {
	model    *specialist.Model
	positive string
}

// positiveLabels are the label names taken to mean "this is an injection".
var positiveLabels = []string{"1", "injection", "prompt_injection", "jailbreak", "true", "yes", "malicious"}

// NewSpecialistScorer wraps m; it fails when none of m's labels reads as
// the positive class.
func NewSpecialistScorer(m *specialist.Model) (*SpecialistScorer, error) {
	for _, l := range m.Labels() {
		if slices.Contains(positiveLabels, strings.ToLower(l)) {
			return &SpecialistScorer{model: m, positive: l}, nil
		}
	}
	return nil, fmt.Errorf("specialist labels %v: none means injection (want one of %v)", m.Labels(), positiveLabels)
}

var _ ContextScorer = (*SpecialistScorer)(nil)

// ScoreInjection implements InjectionScorer.
func (s *SpecialistScorer) ScoreInjection(text string) (float64, []string) {
	return s.ScoreInjectionContext(context.Background(), text)
}

// ScoreInjectionContext implements ContextScorer: the model's work (an
// embedding, for models that use one) stops when ctx ends.
func (s *SpecialistScorer) ScoreInjectionContext(ctx context.Context, text string) (float64, []string) {
	preds, err := s.model.Predict(ctx, []string{text}, 0)
	if err != nil || len(preds) == 0 {
		return 0, nil
	}
	for _, l := range preds[0].Labels {
		if l.Label == s.positive {
			if l.Score >= 0.5 {
				return l.Score, []string{"classifier"}
			}
			return l.Score, nil
		}
	}
	return 0, nil
}
