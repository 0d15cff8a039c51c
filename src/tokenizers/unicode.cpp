#include "tokenizers/unicode.h"

#include <algorithm>
#include <iterator>

namespace wa::unicode {
namespace {
#include "tokenizers/unicode_tables.inc"

constexpr uint32_t kFlagsCatMask = 0x7;
constexpr uint32_t kFlagsWhiteSpace = 0x8;

uint32_t flags_of(uint32_t cp) {
  if (cp > 0x10FFFF) return 0;
  // Last run whose start is <= cp. Entries are (start << 8) | flags, so
  // comparing against (cp << 8) | 0xFF finds runs starting at or before cp.
  const uint32_t key = (cp << 8) | 0xFF;
  const uint32_t* it = std::upper_bound(std::begin(kUnicodeRuns), std::end(kUnicodeRuns), key);
  if (it == std::begin(kUnicodeRuns)) return 0;
  return *(it - 1) & 0xFF;
}

bool is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

}  // namespace

int utf8_sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;  // continuation byte or overlong 2-byte lead
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 0;
}

Utf8Char decode_utf8(std::string_view s, size_t pos) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data()) + pos;
  const size_t avail = s.size() - pos;
  const uint8_t b0 = p[0];
  const Utf8Char bad{kReplacementChar, 1, false};
  const int n = utf8_sequence_length(b0);
  if (n == 1) return {b0, 1, true};
  if (n == 0 || static_cast<size_t>(n) > avail) return bad;
  for (int k = 1; k < n; ++k) {
    if (!is_cont(p[k])) return bad;
  }
  uint32_t cp = 0;
  if (n == 2) {
    cp = ((b0 & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  } else if (n == 3) {
    cp = ((b0 & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return bad;  // overlong / surrogate
  } else {
    cp = ((b0 & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
    if (cp < 0x10000 || cp > 0x10FFFF) return bad;
  }
  return {cp, static_cast<uint32_t>(n), true};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacementChar;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t utf8_complete_prefix(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  // A partial character is a lead byte in the last 3 bytes followed only by
  // continuation bytes, fewer than the lead byte announces.
  const size_t lo = n >= 3 ? n - 3 : 0;
  for (size_t i = n; i > lo; --i) {
    const uint8_t b = p[i - 1];
    if (is_cont(b)) continue;
    const int need = utf8_sequence_length(b);
    if (need > 1 && static_cast<size_t>(need) > n - (i - 1)) return i - 1;
    return n;
  }
  return n;
}

UCat category(uint32_t cp) { return static_cast<UCat>(flags_of(cp) & kFlagsCatMask); }

bool is_whitespace(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  return (flags_of(cp) & kFlagsWhiteSpace) != 0;
}

int bert_fold(uint32_t cp, uint32_t out[3]) {
  // Hangul syllables decompose arithmetically into 2 or 3 conjoining jamo.
  constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
  constexpr uint32_t kTCount = 28, kNCount = 21 * 28, kSCount = 19 * 21 * 28;
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out[0] = kLBase + s / kNCount;
    out[1] = kVBase + (s % kNCount) / kTCount;
    if (s % kTCount == 0) return 2;
    out[2] = kTBase + s % kTCount;
    return 3;
  }
  if (cp < 0x80) {
    out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return 1;
  }
  const uint32_t* it = std::lower_bound(std::begin(kBertFoldKeys), std::end(kBertFoldKeys), cp);
  if (it == std::end(kBertFoldKeys) || *it != cp) {
    out[0] = cp;
    return 1;
  }
  const uint32_t v = kBertFoldVals[it - std::begin(kBertFoldKeys)];
  const int n = static_cast<int>(v & 3);
  for (int k = 0; k < n; ++k) out[k] = kBertFoldPool[(v >> 2) + static_cast<uint32_t>(k)];
  return n;
}

const char* unicode_version() { return WA_UNICODE_VERSION; }

}  // namespace wa::unicode
