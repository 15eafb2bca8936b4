// Package openai holds the OpenAI wire format as the gateway needs it: a
// validating scanner that finds the few top-level fields the gateway acts on
// without decoding (or re-encoding) the rest of a body, in-place splicing of
// the "model" field, the error envelope, and an SSE codec.
//
// Everything the gateway does not act on passes through byte for byte.
package openai
