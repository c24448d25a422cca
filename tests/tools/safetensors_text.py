#!/usr/bin/env python3
"""safetensors_text.py — a safetensors file as text, for numdiff.py.

usage: safetensors_text.py FILE

Prints each tensor in name order: a line "NAME DTYPE [d0, d1, ...]", then its values,
8 to a line, floats with 9 significant digits (every f32 exactly), integers as written.
The metadata is left out (it holds the run's position, compared by the log lines).
golden.sh's oracle mode compares the files a compiled run and the evaluator wrote so.
Exit status: 0, or 2 with a message on a malformed file.
"""
import json
import struct
import sys

FORMATS = {"F32": ("f", 4), "F64": ("d", 8), "I32": ("i", 4), "I64": ("q", 8)}


def main():
    if len(sys.argv) != 2:
        print("usage: safetensors_text.py FILE", file=sys.stderr)
        sys.exit(2)
    path = sys.argv[1]
    with open(path, "rb") as f:
        blob = f.read()
    try:
        (size,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + size])
    except (struct.error, ValueError) as e:
        print(f"safetensors_text.py: {path}: bad header: {e}", file=sys.stderr)
        sys.exit(2)
    data = blob[8 + size:]
    out = []
    for name in sorted(k for k in header if k != "__metadata__"):
        t = header[name]
        if t["dtype"] not in FORMATS:
            print(f"safetensors_text.py: {path}: {name}: dtype {t['dtype']}", file=sys.stderr)
            sys.exit(2)
        code, width = FORMATS[t["dtype"]]
        begin, end = t["data_offsets"]
        values = struct.unpack(f"<{(end - begin) // width}{code}", data[begin:end])
        out.append(f"{name} {t['dtype']} {t['shape']}")
        for i in range(0, len(values), 8):
            row = values[i:i + 8]
            out.append(" ".join(f"{v:.9g}" if code in "fd" else str(v) for v in row))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
