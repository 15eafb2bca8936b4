// Regenerates the ids in golden.json with OpenAI's tiktoken (its Rust core,
// compiled to WebAssembly, from the npm package "tiktoken"):
//
//   npm install tiktoken@1.0.22 && node gen_golden.cjs golden.json
//
// Each entry's "text" is kept; "o200k_base" and "cl100k_base" are rewritten
// with encode_ordinary's ids. Not part of the Go build or tests.
const fs = require("fs");
const { get_encoding } = require("tiktoken");
const path = process.argv[2];
const cases = JSON.parse(fs.readFileSync(path, "utf8"));
for (const name of ["o200k_base", "cl100k_base"]) {
  const enc = get_encoding(name);
  for (const c of cases) c[name] = Array.from(enc.encode_ordinary(c.text));
  enc.free();
}
const lines = cases.map((c) => "  " + JSON.stringify(c));
fs.writeFileSync(path, "[\n" + lines.join(",\n") + "\n]\n");
