// Package guard is the detection library behind Switchyard's privacy and
// safety features: PII recognisers for Chinese and English text, redaction
// and pseudonymisation with numbered placeholders (also on streams),
// prompt-injection scoring and content-category flags; and Gate, the
// gateway's guard step that applies each project's policy with them.
//
// # Gate
//
// Gate scans a call's input texts, blocks, redacts or pseudonymises them
// by the project's policy, filters the output and audits each decision
// (types and counts, never values). It takes no lock on the request path:
// the input scanner is an immutable value behind an atomic pointer, and
// output scanners per PII type set are published copy-on-write. A
// watcher goroutine checks the injection specialist's promoted version
// every few seconds, loads a new one and swaps the scanner; a request
// never opens the store or loads a model.
//
// # Recognisers
//
// A Scanner makes one pass over the bytes of a text. Only bytes that can
// start a structured value — digits, full-width digits, '+', '(', '@', ':',
// '-', '_' and upper-case letters — get any work; everything else is
// skipped through a 256-entry table. No regular expression runs on this
// path. At a digit the scanner reads a run of digit groups (ASCII or
// full-width digits; single spaces, dashes, dots and parentheses between
// groups) and classifies the whole run and, for the validated types, each
// contiguous sub-range of its groups:
//
//   - CN_ID: 17 digits + digit/X, region prefix, date of birth, ISO 7064
//     MOD 11-2 check character (an invalid check character scores 0.3,
//     below the default MinScore).
//   - PHONE: mainland mobiles (1[3-9] + 9 digits, optional +86), landlines
//     with an area code, +E.164, North American formats, and any 7–15
//     digit run next to a phone context word ("phone", "电话", "手机" …).
//   - BANK_CARD: 13–19 digits passing Luhn; US_SSN: ddd-dd-dddd with the
//     SSA area/group/serial rules; IP: dotted quads (and IPv6 at ':' through
//     net/netip).
//
// '@' starts EMAIL, "://" URL_CREDENTIALS (scheme://user:pass@host), and
// upper-case letters IBAN (mod-97), SECRET (AWS AKIA/ASIA keys, JWTs at
// "eyJ"), PLATE (a province character before the letter) and PASSPORT
// ([A-Z]{1,2} + 7–8 digits, reported only next to "passport"/"护照").
// SECRET also covers sk-… and xox?- tokens, GitHub ghp_ tokens and PEM
// private-key blocks. PERSON and ADDRESS are cue-based and honest about
// recall: Chinese names (from a surname list) next to cue words such as
// 姓名 / 先生 / 医生, English names after "my name is", "Mr." …, and Chinese
// addresses starting at a province or municipality name and ending at a
// 号/室/路/街… suffix. English street addresses are not recognised.
//
// # Scores
//
// Every candidate has a base score and a context boost applied when a
// context word for its type lies within 60 bytes before or 24 bytes after
// it. Candidates below Options.MinScore (default 0.5) are dropped; of
// overlapping candidates the longer wins when both score ≥ 0.8, otherwise
// the higher score. Offsets are rune offsets into the original text.
//
// # Injection and categories
//
// The rule scorer folds the text (lower case, full-width to ASCII,
// Cyrillic/Greek homoglyphs to Latin, zero-width, bidi and tag characters
// removed) and matches phrase families (instruction override, forget,
// new task, prompt exfiltration, role-play, "no restrictions" jailbreaks …)
// in English, German, Spanish, French and Chinese. Hidden-text tricks are
// rules too. The score is 1 − Π(1 − w) over fired rules. More scorers (a
// trained classifier) plug in through InjectionScorer; the maximum wins.
// Content categories use the same keyword matcher with strong and weak
// terms; lists and "re:" patterns can be replaced per category.
//
// # Streams and hold-back
//
// StreamRedactor keeps back the last holdBack runes (default 64) of the
// output, extended to the start of a token that crosses that point (by at
// most another holdBack runes), so a value split over chunks is redacted
// whole. A value is therefore released at most about 2×holdBack runes
// (≈ 128 runes, a few dozen tokens) after it was generated; values longer
// than that, such as PEM blocks, can leak in part. In restore mode only an
// unfinished "[…" of at most 32 bytes is held. BenchmarkStream reports the
// bytes held and the cost per chunk.
package guard
