// Package tensor holds the numeric kernels of the pure-Go inference engine:
// the ggml tensor types (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K,
// Q5_K, Q6_K; llama-quantize writes Q5_0/Q5_1 where a K type does not fit a
// row length, as in Qwen2.5-0.5B's Q4_K_M files), their
// dequantisation and quantisation, the matrix-vector and matrix-matrix
// products that dominate inference time, and the small float32 helpers a
// transformer needs (RMSNorm, Softmax, SiLU, elementwise add and multiply).
//
// Weights stay in their stored (usually quantised) form. For quantised
// weights the products follow llama.cpp: the float32 activation vector is
// quantised once to 8 bits (32-element blocks for the 32-element types, 256-element
// super-blocks for the K types) and each weight row is multiplied with
// integer dot products block by block. Products are spread over a small,
// reusable worker Pool; the package-level MatVec and MatMul use a default
// pool sized by SetThreads.
//
// Byte layouts are those of ggml (and so of GGUF files); all multi-byte
// values are little-endian.
package tensor
