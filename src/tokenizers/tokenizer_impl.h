// Internal: factories of the concrete tokenizers, called by Tokenizer::from_vocab.
#pragma once

#include <memory>

#include "tokenizers/tokenizer.h"

namespace wa::detail {

Result<std::unique_ptr<Tokenizer>> make_spm_tokenizer(Vocab vocab);  // spm.cpp
Result<std::unique_ptr<Tokenizer>> make_bpe_tokenizer(Vocab vocab);  // bpe.cpp
Result<std::unique_ptr<Tokenizer>> make_wordpiece_tokenizer(Vocab vocab);  // wordpiece.cpp

}  // namespace wa::detail
