#!/usr/bin/env python3
"""Replaces the text between <!-- NAME:begin --> and <!-- NAME:end --> in a markdown file.

    docblock.py DOC NAME < block        (the block, without the markers, on stdin)

The markers are kept; when they are missing, the block and its markers are appended.
"""
import sys


def splice(doc, name, block):
    """Writes block between the NAME markers of the file doc (created if missing)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    try:
        with open(doc) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmarks\n"
    block = f"{begin}\n{block.strip(chr(10))}\n{end}"
    if begin in text and end in text and text.index(begin) < text.index(end):
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(doc, "w") as f:
        f.write(text)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: docblock.py DOC NAME < block")
    splice(sys.argv[1], sys.argv[2], sys.stdin.read())
