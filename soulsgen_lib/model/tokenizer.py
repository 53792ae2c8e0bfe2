"""A word-level tokenizer: every token is a whole word or a punctuation mark from the corpus.

Why word-level: with sub-word pieces (BPE, WordPiece) a small model glues pieces into words that
do not exist ("spench", "Thesething"). Here the vocabulary *is* the corpus's words, so the model
cannot invent one; `<unk>` is never sampled, and text is rebuilt by spacing rules, not by
joining pieces. The cost is a larger embedding table, which a small model affords.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

from soulsgen_lib.atomic import write_text_atomic
from soulsgen_lib.model.errors import ModelError

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)  # ids 0..3 in this order
# A word keeps inner apostrophes and hyphens ("don't", "well-made"); "..." is one token; any
# other non-space character stands alone.
WORD_PATTERN = r"\w+(?:['’\-]\w+)*|\.\.\.|[^\w\s]"
_WORD_RE = re.compile(WORD_PATTERN)
DEFAULT_MAX_VOCAB = 32000

_NO_SPACE_BEFORE = frozenset(".,;:!?)]}…%”’") | {"..."}
_NO_SPACE_AFTER = frozenset("([{“‘")
_STRAIGHT_QUOTES = frozenset("\"'")
_JOINERS = frozenset("—/")  # typeset without spaces on either side


def split_words(text: str) -> list[str]:
    """The tokens of `text` as the tokenizer sees them (words and punctuation marks)."""
    return _WORD_RE.findall(text)


def is_word(token: str) -> bool:
    return any(char.isalnum() for char in token)


def detokenize(tokens: Iterable[str]) -> str:
    """Join word tokens into text by typesetting rules (no space before a comma, quotes hug their words)."""
    out: list[str] = []
    attach_next = True  # no space before the first token
    open_quotes: set[str] = set()
    for token in tokens:
        if token in _STRAIGHT_QUOTES:
            closing = token in open_quotes
            open_quotes.symmetric_difference_update({token})
            if not (attach_next or closing):
                out.append(" ")
            out.append(token)
            attach_next = not closing
            continue
        if not attach_next and token not in _NO_SPACE_BEFORE and token not in _JOINERS:
            out.append(" ")
        out.append(token)
        attach_next = token in _NO_SPACE_AFTER or token in _JOINERS
    return "".join(out)


@dataclass
class WordTokenizer:
    """The `tokenizers` word-level model plus the ids and spacing rules generation needs."""

    tokenizer: Tokenizer

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    @property
    def pad_id(self) -> int:
        return self.tokenizer.token_to_id(PAD)

    @property
    def bos_id(self) -> int:
        return self.tokenizer.token_to_id(BOS)

    @property
    def eos_id(self) -> int:
        return self.tokenizer.token_to_id(EOS)

    @property
    def unk_id(self) -> int:
        return self.tokenizer.token_to_id(UNK)

    def token_to_id(self, token: str) -> int | None:
        return self.tokenizer.token_to_id(token)

    def id_to_token(self, token_id: int) -> str:
        return self.tokenizer.id_to_token(token_id)

    def encode(self, text: str) -> list[int]:
        """Token ids of one sentence, without start/end tokens; unknown words become `<unk>`."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_sentence(self, text: str) -> list[int]:
        """`<s>` sentence `</s>`: the unit the model learns and generates."""
        return [self.bos_id, *self.encode(text), self.eos_id]

    def decode(self, ids: Iterable[int]) -> str:
        """Readable text of token ids; special tokens are dropped."""
        specials = {self.pad_id, self.bos_id, self.eos_id, self.unk_id}
        return detokenize(self.tokenizer.id_to_token(i) for i in ids if i not in specials)

    def sha256(self) -> str:
        return hashlib.sha256(self.tokenizer.to_str().encode("utf-8")).hexdigest()

    def save(self, path: Path) -> None:
        write_text_atomic(path, self.tokenizer.to_str(pretty=True))

    @classmethod
    def load(cls, path: Path) -> WordTokenizer:
        if not path.is_file():
            raise ModelError(f"{path}: tokenizer missing; run `soulsgen tokenizer train` or `soulsgen train` first")
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as error:  # the library raises plain Exception subclasses on bad JSON
            raise ModelError(f"{path}: not a readable tokenizer file ({error}); train it again") from None
        if any(tokenizer.token_to_id(token) != i for i, token in enumerate(SPECIAL_TOKENS)):
            raise ModelError(f"{path}: special tokens {SPECIAL_TOKENS} are missing or out of order; train it again")
        return cls(tokenizer)


def train_tokenizer(sentences: Iterable[str], max_vocab: int = DEFAULT_MAX_VOCAB, min_count: int = 1) -> WordTokenizer:
    """Build the word vocabulary of `sentences` (the most frequent `max_vocab` tokens, case kept)."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="isolated")]
    )
    trainer = trainers.WordLevelTrainer(
        vocab_size=max_vocab, min_frequency=min_count, special_tokens=list(SPECIAL_TOKENS), show_progress=False
    )
    tokenizer.train_from_iterator(sentences, trainer)
    result = WordTokenizer(tokenizer)
    if result.vocab_size <= len(SPECIAL_TOKENS):
        raise ModelError("no words to build a vocabulary from: the corpus's train.txt is empty")
    return result


def read_sentences(path: Path) -> list[str]:
    """Non-empty lines of a corpus split file, with a clear error when it is missing or empty."""
    if not path.is_file():
        raise ModelError(f"{path}: missing; point --corpus at a folder made by `soulsgen corpus build`")
    sentences = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not sentences:
        raise ModelError(f"{path}: has no sentences; build the corpus from game text that has some")
    return sentences
