"""Greedy word wrap in logical order, by any measure of width (points of a font, columns of a printer)."""

from __future__ import annotations

from collections.abc import Callable

Measure = Callable[[str], float]


def _split_word(word: str, measure: Measure, width: float) -> list[str]:
    """A word wider than the line, cut between characters into pieces that fit."""
    pieces = [""]
    for char in word:
        if pieces[-1] and measure(pieces[-1] + char) > width:
            pieces.append(char)
        else:
            pieces[-1] += char
    return pieces


def wrap(text: str, measure: Measure, width: float) -> list[str]:
    """`text` in lines no wider than `width`, broken at spaces, or inside a word only when it alone is wider."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if measure(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        *whole_lines, current = _split_word(word, measure, width)
        lines.extend(whole_lines)
    lines.append(current)
    return lines


def shorten(lines: list[str], most: int, measure: Measure, width: float, mark: str = "…") -> list[str]:
    """At most `most` lines; when some are left out, the last kept line ends in `mark` and still fits."""
    if len(lines) <= most:
        return lines
    words = lines[most - 1].split(" ")
    while len(words) > 1 and measure(" ".join(words) + mark) > width:
        words.pop()  # end at a word boundary where one is left
    last = " ".join(words)
    while last and measure(last + mark) > width:
        last = last[:-1]
    return [*lines[: most - 1], last.rstrip(" \u200c") + mark]
