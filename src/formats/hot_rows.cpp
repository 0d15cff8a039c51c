#include "formats/hot_rows.h"

#include <cstring>

namespace wa {

bool is_hot_rows_tensor(const std::string& name) { return name == kHotRowsTensor || name == kHotIdsTensor; }

bool has_hot_rows(const GgufFile& file) {
  return file.find(kHotRowsKey) || file.find_tensor(kHotRowsTensor) || file.find_tensor(kHotIdsTensor);
}

Status validate_hot_ids(const uint8_t* bytes, int64_t count, int64_t n_vocab) {
  int64_t prev = -1;
  for (int64_t i = 0; i < count; ++i) {
    int32_t id;
    std::memcpy(&id, bytes + i * 4, 4);
    if (id < 0 || id >= n_vocab) {
      return invalid_file(strformat("'%s'[%lld] = %d is outside the vocabulary [0, %lld)", kHotIdsTensor,
                                    static_cast<long long>(i), id, static_cast<long long>(n_vocab)));
    }
    if (id <= prev) {
      return invalid_file(strformat("'%s' must be strictly increasing: [%lld] = %d after %lld%s", kHotIdsTensor,
                                    static_cast<long long>(i), id, static_cast<long long>(prev),
                                    id == prev ? " (a duplicate id)" : ""));
    }
    prev = id;
  }
  return Status::Ok();
}

Status validate_hot_rows(const GgufFile& file, const GgufTensorInfo& table, HotRows* out) {
  *out = HotRows{};
  if (!has_hot_rows(file)) return Status::Ok();
  const GgufTensorInfo* rows = file.find_tensor(kHotRowsTensor);
  const GgufTensorInfo* ids = file.find_tensor(kHotIdsTensor);
  const auto count = file.get_int(kHotRowsKey);
  if (!file.find(kHotRowsKey) || !rows || !ids) {
    return invalid_file(strformat("hot rows need the key '%s' and the tensors '%s' and '%s' together; the file has %s%s%s",
                                  kHotRowsKey, kHotRowsTensor, kHotIdsTensor, file.find(kHotRowsKey) ? "the key " : "",
                                  rows ? "the rows " : "", ids ? "the ids" : ""));
  }
  const int64_t n_embd = table.ne[0], n_vocab = table.ne[1];
  if (!count || *count < 1 || *count > n_vocab) {
    return invalid_file(strformat("'%s' must be an integer in [1, %lld] (the embedding's rows)", kHotRowsKey,
                                  static_cast<long long>(n_vocab)));
  }
  if (rows->n_dims != 2 || rows->ne[0] != n_embd || rows->ne[1] != *count) {
    return invalid_file(strformat("'%s' has shape [%lld, %lld] (%d dims), expected [%lld, %lld]", kHotRowsTensor,
                                  static_cast<long long>(rows->ne[0]), static_cast<long long>(rows->ne[1]), rows->n_dims,
                                  static_cast<long long>(n_embd), static_cast<long long>(*count)));
  }
  if (ids->n_dims != 1 || ids->ne[0] != *count) {
    return invalid_file(strformat("'%s' has %lld elements (%d dims), expected %lld", kHotIdsTensor,
                                  static_cast<long long>(ids->n_elements()), ids->n_dims, static_cast<long long>(*count)));
  }
  if (ids->type != DType::i32) {
    return invalid_file(strformat("'%s' has type %s, expected i32", kHotIdsTensor, dtype_name(ids->type)));
  }
  const TypeTraits* tt = type_traits(rows->type);
  if (!tt || !tt->to_f32) {
    return unsupported(strformat("'%s' has type %s, which this build cannot read", kHotRowsTensor, dtype_name(rows->type)));
  }
  if (const uint8_t* bytes = file.tensor_data(*ids)) WA_TRY(validate_hot_ids(bytes, *count, n_vocab));
  out->rows = rows;
  out->ids = ids;
  return Status::Ok();
}

}  // namespace wa
