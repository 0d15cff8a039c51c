"""Writes malformed variants of a GGUF model with hot rows (formats/hot_rows.h:
key webaccel.token_embd.hot_rows, tensors token_embd.hot_rows and
token_embd.hot_ids) into a folder, one file per kind of damage. Standard
library only.

usage: make_malformed_hot_rows.py MODEL_WITH_HOT_ROWS.gguf OUT_DIR
"""
import os
import struct
import sys

from gguf_header import skip_value

src, out = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()

n_tensors, n_kv = struct.unpack_from("<QQ", data, 8)
pos = 24
alignment = 32
kv = {}  # key -> (offset of the key's first byte, offset of its type tag)
for _ in range(n_kv):
    (klen,) = struct.unpack_from("<Q", data, pos)
    key = data[pos + 8:pos + 8 + klen].decode()
    kv[key] = (pos + 8, pos + 8 + klen)
    (t,) = struct.unpack_from("<I", data, pos + 8 + klen)
    if key == "general.alignment":
        (alignment,) = struct.unpack_from("<I", data, pos + 8 + klen + 4)
    pos = skip_value(data, pos + 8 + klen + 4, t)
tensors = {}
for _ in range(n_tensors):
    (nlen,) = struct.unpack_from("<Q", data, pos)
    name = data[pos + 8:pos + 8 + nlen].decode()
    name_at = pos + 8
    pos += 8 + nlen
    (nd,) = struct.unpack_from("<I", data, pos)
    dims_at = pos + 4
    type_at = dims_at + 8 * nd
    (offset,) = struct.unpack_from("<Q", data, type_at + 4)
    tensors[name] = {"name_at": name_at, "dims_at": dims_at, "type_at": type_at, "offset": offset}
    pos = type_at + 12
data_start = (pos + alignment - 1) // alignment * alignment
ids = tensors["token_embd.hot_ids"]
ids_at = data_start + ids["offset"]
(count,) = struct.unpack_from("<Q", data, ids["dims_at"])


def save(name, content):
    with open(os.path.join(out, name), "wb") as f:
        f.write(content)


def patched(*edits):
    b = bytearray(data)
    for at, fmt, value in edits:
        struct.pack_into(fmt, b, at, value)
    return bytes(b)


first, second = struct.unpack_from("<ii", data, ids_at)
save("hot-id-out-of-range.gguf", patched((ids_at + 4 * (count - 1), "<i", 1 << 30)))
save("hot-id-negative.gguf", patched((ids_at, "<i", -3)))
save("hot-id-duplicate.gguf", patched((ids_at + 4, "<i", first)))
save("hot-ids-unsorted.gguf", patched((ids_at, "<i", second), (ids_at + 4, "<i", first)))
save("hot-ids-not-i32.gguf", patched((ids["type_at"], "<I", 0)))  # f32
save("hot-rows-shape-mismatch.gguf", patched((tensors["token_embd.hot_rows"]["dims_at"] + 8, "<Q", count - 1)))
key_at = kv["webaccel.token_embd.hot_rows"][0]
save("hot-rows-no-key.gguf", patched((key_at, "<B", ord("X"))))  # the key renamed: tensors without it
save("hot-rows-key-too-large.gguf", patched((kv["webaccel.token_embd.hot_rows"][1] + 4, "<I", count + 1)))
save("hot-rows-no-ids.gguf", patched((ids["name_at"], "<B", ord("X"))))  # the ids tensor renamed
