#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bulwark::detect {

// Value normalisation applied before matching. Every function is total (any byte string is
// valid input), allocation-bounded by the input size, and never throws on hostile data.

// One round of percent-decoding: %XX, %uXXXX (IIS style, to UTF-8, surrogate pairs combined)
// and, when plusAsSpace, '+' (transforms::percent).
// Malformed escapes are kept verbatim. Returns false when nothing changed.
bool percentDecode(std::string_view in, std::string& out, bool plusAsSpace);

// Overlong UTF-8 encodings of ASCII (C0 AF, E0 80 AF, ...) and the full-width / look-alike
// forms of ASCII punctuation (U+FF01..U+FF5E, U+2215, U+2216) become plain ASCII.
bool foldUnicode(std::string_view in, std::string& out);

// HTML character references: &#60; &#x3c; &#0060 (no ';'), and the named ones that matter.
bool decodeHtmlEntities(std::string_view in, std::string& out);

// JavaScript / JSON / C escapes: \uXXXX, \u{X..}, \xHH.
bool decodeJsEscapes(std::string_view in, std::string& out);

// UTF-7 shifted sequences (+ADw- is '<') whose UTF-16 units are all ASCII.
bool decodeUtf7(std::string_view in, std::string& out);

// The full pipeline, repeated until stable or maxRounds: percent-decoding ('+' as space in the
// first round only, when plusAsSpace), Unicode folding, entities, JS escapes, UTF-7; then NUL
// bytes are dropped (other control characters are kept: some attacks use them as separators).
void normalizeValue(std::string_view raw, std::string& out, bool plusAsSpace, size_t maxRounds = 4);

// ASCII lower-casing into out (same length).
void toLowerAscii(std::string_view in, std::string& out);

// A request path made canonical: backslashes -> '/', "//" collapsed, "." and ".." resolved.
// Returns how many ".." segments tried to climb above the root (0 for a clean path).
size_t canonicalPath(std::string_view decodedPath, std::string& out);

// If the value plausibly is base64 (or base64url) of mostly printable text, decodes it into out.
bool tryBase64Text(std::string_view in, std::string& out);

} // namespace bulwark::detect
