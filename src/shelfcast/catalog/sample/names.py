"""Names of the sample catalogue's titles: unique title texts, a pool of recurring authors and
unique ISBNs per imprint, at any catalogue size."""

from __future__ import annotations

import copy

import numpy as np

from shelfcast.catalog.isbn import isbn13_check_digit
from shelfcast.catalog.sample.words import FIRST_NAMES, LAST_NAMES, bookscan_title, pick, title_text

_FRESH_DRAWS = 10  # draws of a kind of title before it counts as used up
_AUTHORS = 400  # draws of author names for a catalogue of the default size


class Namer:
    """Unique titles, a pool of recurring authors, and unique ISBNs per imprint.

    Large catalogues run out of word combinations and of an imprint's ISBN block: once ten
    draws in a row of a kind of title are taken, that kind's titles take a book number
    ("Silent Harbour, The (Book 2)") after a single draw; once half of an imprint's block is
    issued, it continues in the ten times larger block of its prefix less one digit.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        titles: tuple[str, ...],
        isbns: tuple[str, ...],
        scale: float = 1.0,
    ):
        """`titles`, `isbns`: already in use; `scale`: the catalogue's size over the default's
        (the author pool grows with it)."""
        self.rng = rng
        self.titles: set[str] = set(titles)
        self.isbns: set[str] = set(isbns)
        draws = round(_AUTHORS * max(scale, 1.0))
        names = {f"{pick(rng, LAST_NAMES)}, {pick(rng, FIRST_NAMES)}" for _ in range(draws)}
        self.authors = sorted(names)
        self.used_up: set[str] = set()  # kinds of title that take book numbers
        self.numbers: dict[str, int] = {}  # a title text's last book number
        self.blocks: dict[str, str] = {}  # an imprint's prefix -> the block it issues from
        self.issued: dict[str, int] = {}  # ISBNs issued per imprint prefix

    def fork(self, rng: np.random.Generator) -> Namer:
        """A namer drawing from `rng` that shares this one's titles, authors and ISBNs."""
        other = copy.copy(self)
        other.rng = rng
        return other

    def title(self, words: str) -> str:
        for _ in range(1 if words in self.used_up else _FRESH_DRAWS):
            text = bookscan_title(title_text(self.rng, words))
            if text not in self.titles:
                self.titles.add(text)
                return text
        self.used_up.add(words)
        number = self.numbers.get(text, 1) + 1
        while f"{text} (Book {number})" in self.titles:
            number += 1
        self.numbers[text] = number
        self.titles.add(f"{text} (Book {number})")
        return f"{text} (Book {number})"

    def author(self) -> str:
        return pick(self.rng, self.authors)

    def isbn(self, prefix: str) -> str:
        block = self.blocks.get(prefix, prefix)
        digits = 12 - len(block)
        while True:
            body = f"{int(self.rng.integers(10**digits)):0{digits}d}"
            isbn = block + body + isbn13_check_digit(block + body)
            if isbn not in self.isbns:
                break
        self.isbns.add(isbn)
        self.issued[prefix] = issued = self.issued.get(prefix, 0) + 1
        if 2 * issued >= 10**digits:
            self.blocks[prefix] = block[:-1]
        return isbn
