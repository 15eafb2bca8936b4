// Package tokenize counts tokens offline with OpenAI's byte-pair encodings,
// for metering: TPM estimates before a call, and usage when an upstream
// reports none.
//
// The o200k_base and cl100k_base vocabularies are embedded in the binary
// (their data comes from github.com/pkoukk/tiktoken-go-loader); the
// pre-tokenizers are hand-written scanners equivalent to the encodings'
// published regular expressions, and the encoder is a rank-ordered
// byte-pair merge, so [Encoding.Encode] yields the ids OpenAI's tiktoken
// yields. An encoding is built on first use by [Get] and shared afterwards.
//
// Special-token text such as "<|endoftext|>" is encoded as ordinary text by
// [Encoding.Encode] and [Encoding.Count], as OpenAI does for user content;
// [Encoding.EncodeSpecial] maps it to the special ids instead.
//
// [CountChat] applies the per-message framing of chat requests documented
// in OpenAI's cookbook, and [Mapper] resolves a model name to its encoding.
package tokenize
