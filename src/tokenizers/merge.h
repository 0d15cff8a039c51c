// The merge loop shared by the SentencePiece and byte-level BPE tokenizers: a
// word starts as one symbol per UTF-8 character and adjacent symbols are
// merged, best pair first, until no adjacent pair is mergeable. Tokenizers
// differ only in how a pair is ranked (SPM: the merged piece's score, higher
// first; BPE: the merge's rank, lower first), which the caller supplies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <string_view>
#include <vector>

#include "tokenizers/unicode.h"

namespace wa::detail {

// A span of the word's bytes in a doubly linked list (-1 ends it).
struct MergeSymbol {
  size_t start;
  uint32_t len;
  int32_t prev, next;
};

// One symbol per UTF-8 character; an invalid byte is a symbol of its own.
inline std::vector<MergeSymbol> split_symbols(std::string_view text) {
  std::vector<MergeSymbol> syms;
  syms.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const uint32_t len = unicode::decode_utf8(text, pos).len;
    const auto idx = static_cast<int32_t>(syms.size());
    syms.push_back({pos, len, idx - 1, idx + 1});
    pos += len;
  }
  if (!syms.empty()) syms.back().next = -1;
  return syms;
}

// priority(left, right) -> std::optional<double>: higher merges first;
// nullopt when the pair cannot merge. Ties go to the leftmost pair. Merged
// symbols keep the left index; the right one is emptied (len 0).
template <class PriorityFn>
void merge_symbols(std::string_view text, std::vector<MergeSymbol>& syms, PriorityFn priority) {
  struct Candidate {
    double priority;
    int32_t left, right;
    uint32_t len;  // combined length when queued; stale if either side changed since
  };
  auto lower = [](const Candidate& a, const Candidate& b) {
    return a.priority < b.priority || (a.priority == b.priority && a.left > b.left);
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(lower)> queue(lower);
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const MergeSymbol& l = syms[static_cast<size_t>(left)];
    const MergeSymbol& r = syms[static_cast<size_t>(right)];
    const std::optional<double> p = priority(text.substr(l.start, l.len), text.substr(r.start, r.len));
    if (p) queue.push({*p, left, right, l.len + r.len});
  };
  for (size_t i = 1; i < syms.size(); ++i) try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    MergeSymbol& l = syms[static_cast<size_t>(c.left)];
    MergeSymbol& r = syms[static_cast<size_t>(c.right)];
    if (l.len == 0 || r.len == 0 || l.next != c.right || l.len + r.len != c.len) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = c.left;
    try_add(l.prev, c.left);
    try_add(c.left, l.next);
  }
}

}  // namespace wa::detail
