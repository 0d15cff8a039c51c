#include "tokenizers/tokenizer_impl.h"
namespace wa::detail {
Result<std::unique_ptr<Tokenizer>> make_bpe_tokenizer(Vocab vocab) {
  return unsupported("byte-level BPE: not yet " + vocab.model);
}
}  // namespace wa::detail
