package openai

import "testing"

var (
	benchChunk   = []byte(`{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":" world, and"},"logprobs":null,"finish_reason":null}]}`)
	benchRequest = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the capital of France? Answer in one word, please."}],"temperature":0.2,"max_tokens":64,"stream":true,"stream_options":{"include_usage":true},"user":"u-42"}`)
)

func BenchmarkScanChunk(b *testing.B) {
	b.SetBytes(int64(len(benchChunk)))
	for b.Loop() {
		if _, err := Scan(benchChunk); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanRequest(b *testing.B) {
	b.SetBytes(int64(len(benchRequest)))
	for b.Loop() {
		if _, err := Scan(benchRequest); err != nil {
			b.Fatal(err)
		}
	}
}
