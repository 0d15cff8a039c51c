"""The GGUF header's value encoding, for the malformed-file generators
(make_malformed.py, make_malformed_hot_rows.py). Standard library only."""
import struct

# Bytes of each scalar metadata type (GGUF value types 0-7, 10-12).
SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def skip_value(data, p, t):
    """The offset just past a value of type t at offset p of data."""
    if t == 8:  # string
        (n,) = struct.unpack_from("<Q", data, p)
        return p + 8 + n
    if t == 9:  # array: element type, count, elements
        et, cnt = struct.unpack_from("<IQ", data, p)
        p += 12
        for _ in range(cnt):
            p = skip_value(data, p, et)
        return p
    return p + SCALAR[t]
