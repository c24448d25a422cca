#!/usr/bin/env python3
"""fmnist_subset.py — a small Fashion-MNIST (or MNIST) directory for short test runs.

usage: fmnist_subset.py SRC DST NTRAIN NTEST

Writes DST/{train,t10k}-{images-idx3,labels-idx1}-ubyte (plain IDX) holding the first
NTRAIN training and the first NTEST test samples of the dataset in SRC (the same names,
plain or .gz). A program reads it with `--data DST` in place of its directory: golden.sh's
oracle mode runs compiled code and the f64 evaluator on it, so that an epoch and its test
take seconds in the evaluator's plain loops rather than minutes.
Exit status: 0, or 2 with a message on a missing or malformed file.
"""
import gzip
import os
import struct
import sys


def open_idx(src, name):
    for path, opener in ((os.path.join(src, name), open), (os.path.join(src, name + ".gz"), gzip.open)):
        if os.path.exists(path):
            return opener(path, "rb"), path
    sys.exit(f"fmnist_subset.py: no {name}[.gz] in {src}")


def copy(src, dst, name, count):
    f, path = open_idx(src, name)
    with f:
        magic = f.read(4)
        if len(magic) != 4 or magic[:2] != b"\0\0" or magic[2] != 8:
            sys.exit(f"fmnist_subset.py: {path}: not an unsigned-byte IDX file")
        rank = magic[3]
        dims = list(struct.unpack(f">{rank}I", f.read(4 * rank)))
        if count > dims[0]:
            sys.exit(f"fmnist_subset.py: {path} has {dims[0]} samples, fewer than {count}")
        size = 1
        for d in dims[1:]:
            size *= d
        data = f.read(count * size)
        if len(data) != count * size:
            sys.exit(f"fmnist_subset.py: {path}: truncated")
    dims[0] = count
    with open(os.path.join(dst, name), "wb") as out:
        out.write(magic + struct.pack(f">{rank}I", *dims) + data)


def main():
    if len(sys.argv) != 5:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    src, dst, ntrain, ntest = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(dst, exist_ok=True)
    try:
        for split, count in (("train", ntrain), ("t10k", ntest)):
            copy(src, dst, f"{split}-images-idx3-ubyte", count)
            copy(src, dst, f"{split}-labels-idx1-ubyte", count)
    except SystemExit as e:
        print(e, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
