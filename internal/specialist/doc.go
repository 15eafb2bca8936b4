// Package specialist trains, evaluates, versions and serves small domain
// classifiers ("specialists") from a few hundred to a few tens of thousands
// of labelled texts, in seconds, on CPU, in English and Chinese.
//
// A specialist is a linear model over hashed word and character n-gram
// features (CJK-aware: Chinese characters become uni/bi/tri-grams without a
// word segmenter), optionally concatenated with sentence embeddings from an
// [Embedder]. Training picks its feature weighting and regularisation on a
// validation split only, calibrates probabilities and an out-of-scope
// threshold on that split, and then refits on train+validation. Models are
// stored as compact binary files (int8 weights) in a versioned [Store] with
// JSON manifests, promotion and rollback.
//
// The entry points are [LoadFile] (CSV or JSONL data), [Train], [Model.Predict],
// [Evaluate] and [Store]. [RunAccuracySuite] measures the public datasets.
package specialist
