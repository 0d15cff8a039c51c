"""Writes malformed variants of a valid GGUF model (and llama2.c checkpoint)
into a folder, one file per kind of damage. Standard library only.

usage: make_malformed.py MODEL.gguf LLAMA2C.bin OUT_DIR
"""
import os
import struct
import sys

from gguf_header import skip_value

src, l2c, out = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, "rb").read()

# Walk the header, remembering where each field is.
pos = 24
n_tensors, n_kv = struct.unpack_from("<QQ", data, 8)
kv_at = {}  # key -> (offset of type tag, offset of value)
first_key_len_at = pos
for _ in range(n_kv):
    (klen,) = struct.unpack_from("<Q", data, pos)
    key = data[pos + 8:pos + 8 + klen].decode()
    pos += 8 + klen
    (t,) = struct.unpack_from("<I", data, pos)
    kv_at[key] = (pos, pos + 4)
    pos = skip_value(data, pos + 4, t)
tensors = []
for _ in range(n_tensors):
    (nlen,) = struct.unpack_from("<Q", data, pos)
    name = data[pos + 8:pos + 8 + nlen].decode()
    pos += 8 + nlen
    (nd,) = struct.unpack_from("<I", data, pos)
    dims_at = pos + 4
    type_at = dims_at + 8 * nd
    tensors.append({"name": name, "dims_at": dims_at, "type_at": type_at, "offset_at": type_at + 4})
    pos = type_at + 12


def patched(at, fmt, value):
    b = bytearray(data)
    struct.pack_into(fmt, b, at, value)
    return bytes(b)


def save(name, content):
    with open(os.path.join(out, name), "wb") as f:
        f.write(content)


def set_u32_kv(key, value):
    tag, val = kv_at[key]
    return patched(val, "<I", value)


save("empty.gguf", b"")
save("magic-only.gguf", data[:4])
save("truncated-header.gguf", data[: pos // 2])
save("truncated-data.gguf", data[: len(data) // 2])
save("truncated-last-byte.gguf", data[: len(data) - 64])
save("wrong-magic.gguf", b"GGUX" + data[4:])
save("wrong-version.gguf", patched(4, "<I", 99))
save("huge-kv-count.gguf", patched(16, "<Q", 1 << 60))
save("huge-tensor-count.gguf", patched(8, "<Q", 1 << 60))
save("huge-string-length.gguf", patched(first_key_len_at, "<Q", 1 << 62))
save("offset-past-end.gguf", patched(tensors[-1]["offset_at"], "<Q", len(data) * 4 // 32 * 32))
save("absurd-dimension.gguf", patched(tensors[0]["dims_at"], "<Q", 1 << 40))
save("zero-dimension.gguf", patched(tensors[0]["dims_at"], "<Q", 0))
save("unknown-type.gguf", patched(tensors[0]["type_at"], "<I", 99))
save("unsupported-type.gguf", patched(tensors[1]["type_at"], "<I", 9))  # q8_1: known to GGUF, not run here
save("kquant-partial-superblock.gguf", patched(tensors[1]["type_at"], "<I", 12))  # q4_K rows of 64: not whole super-blocks
save("zero-heads.gguf", set_u32_kv("llama.attention.head_count", 0))
save("heads-not-multiple.gguf", set_u32_kv("llama.attention.head_count_kv", 3))
save("absurd-layers.gguf", set_u32_kv("llama.block_count", 1 << 30))
save("more-layers-than-tensors.gguf", set_u32_kv("llama.block_count", 6))
save("wrong-width.gguf", set_u32_kv("llama.embedding_length", 96))

ck = open(l2c, "rb").read()
with open(os.path.join(out, "truncated.bin"), "wb") as f:
    f.write(ck[: len(ck) // 3])
with open(os.path.join(out, "absurd-header.bin"), "wb") as f:
    f.write(struct.pack("<7i", 1 << 30, 4, 4, 4, 4, 512, 512) + ck[28:])
with open(os.path.join(out, "zero-header.bin"), "wb") as f:
    f.write(b"\0" * 64)
