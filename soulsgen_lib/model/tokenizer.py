"""Tokenizers whose output cannot hold an invented word: word-level (the default) or sub-word.

With free sub-word pieces (BPE, WordPiece) a small model glues pieces into words that do not
exist ("spench", "Thesething"). Two ways keep that out by construction:

- `WordTokenizer` ("word"): every token is a whole word or punctuation mark from the corpus, so
  the model cannot invent one; `<unk>` is never sampled.
- `SubwordTokenizer` ("subword"): BPE pieces inside the same words, marked `##` when they continue
  a word; generation masks every piece that would not continue some corpus word
  (`soulsgen_lib.model.constraint`).

Both split text into the same words and rebuild it by the same spacing rules, never by joining
raw pieces, so no `##`, `<unk>` or byte garbage reaches users.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

from soulsgen_lib.atomic import write_text_atomic
from soulsgen_lib.model.config import TOKENIZER_KINDS
from soulsgen_lib.model.data import WORD_PATTERN, split_words
from soulsgen_lib.model.errors import ModelError

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)  # ids 0..3 in this order
CONTINUATION = "##"  # marks a sub-word piece that continues the word before it
DEFAULT_MAX_VOCAB = {"word": 32000, "subword": 4000}
# With more pieces than this share of the corpus's words, BPE merges nearly every word whole and
# the sub-word tokenizer becomes a word-level one; small corpora get fewer pieces by default.
SUBWORD_SHARE_OF_WORDS = 1 / 3

_NO_SPACE_BEFORE = frozenset(".,;:!?)]}…%”’") | {"..."}
_NO_SPACE_AFTER = frozenset("([{“‘")
_STRAIGHT_QUOTES = frozenset("\"'")
_JOINERS = frozenset("—/")  # typeset without spaces on either side
_ELLIPSES = frozenset({"...", "…"})


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
        opens_text = not out
        out.append(token)
        # An ellipsis that opens the text leads into its word ("...and so it ends").
        attach_next = token in _NO_SPACE_AFTER or token in _JOINERS or (opens_text and token in _ELLIPSES)
    return "".join(out)


@dataclass
class TokenizerBase:
    """A `tokenizers` model plus the ids, encoding and file handling both kinds share."""

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

    def piece_text(self, token_id: int) -> str:
        """The characters a token adds to the text (without a continuation mark)."""
        return self.tokenizer.id_to_token(token_id)

    def is_continuation(self, token_id: int) -> bool:
        """Whether a token continues the word before it (only sub-word pieces do)."""
        return False

    def encode(self, text: str) -> list[int]:
        """Token ids of one sentence, without start/end tokens; unknown words become `<unk>`."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_sentence(self, text: str) -> list[int]:
        """`<s>` sentence `</s>`: the unit the model learns and generates."""
        return [self.bos_id, *self.encode(text), self.eos_id]

    def words_of(self, ids: Iterable[int]) -> list[str]:
        """The words token ids spell, continuation pieces joined to their word; special tokens are dropped."""
        specials = {self.pad_id, self.bos_id, self.eos_id, self.unk_id}
        words: list[str] = []
        for i in ids:
            if i in specials:
                continue
            if self.is_continuation(i) and words:
                words[-1] += self.piece_text(i)
            else:
                words.append(self.piece_text(i))
        return words

    def decode(self, ids: Iterable[int]) -> str:
        """Readable text of token ids, typeset by the spacing rules."""
        return detokenize(self.words_of(ids))

    def sha256(self) -> str:
        return hashlib.sha256(self.tokenizer.to_str().encode("utf-8")).hexdigest()

    def save(self, path: Path) -> None:
        write_text_atomic(path, self.tokenizer.to_str(pretty=True))


class WordTokenizer(TokenizerBase):
    """Whole corpus words and punctuation marks as tokens."""

    kind = "word"


class SubwordTokenizer(TokenizerBase):
    """BPE pieces within corpus words; a piece starting with `##` continues the word before it."""

    kind = "subword"

    def is_continuation(self, token_id: int) -> bool:
        return self.tokenizer.id_to_token(token_id).startswith(CONTINUATION)

    def piece_text(self, token_id: int) -> str:
        return self.tokenizer.id_to_token(token_id).removeprefix(CONTINUATION)

    def split(self, text: str) -> list[str]:
        """The words of `text` exactly as this tokenizer normalises and splits it before finding pieces."""
        normalized = self.tokenizer.normalizer.normalize_str(text)
        return [word for word, _ in self.tokenizer.pre_tokenizer.pre_tokenize_str(normalized)]

    def spelled_words(self, sentences: Iterable[str]) -> set[str]:
        """The words of `sentences` that pieces spell without `<unk>`: what constrained decoding may write."""
        words = {word for sentence in sentences for word in self.split(sentence)}
        return {word for word in words if self.unk_id not in self.encode(word)}


AnyTokenizer = WordTokenizer | SubwordTokenizer


def load_tokenizer(path: Path) -> AnyTokenizer:
    """The tokenizer saved at `path`, word-level or sub-word by the model type in the file."""
    if not path.is_file():
        raise ModelError(f"{path}: tokenizer missing; run `soulsgen tokenizer train` or `soulsgen train` first")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # the library raises plain Exception subclasses on bad JSON
        raise ModelError(f"{path}: not a readable tokenizer file ({error}); train it again") from None
    if any(tokenizer.token_to_id(token) != i for i, token in enumerate(SPECIAL_TOKENS)):
        raise ModelError(f"{path}: special tokens {SPECIAL_TOKENS} are missing or out of order; train it again")
    model_type = type(tokenizer.model).__name__
    if model_type == "WordLevel":
        return WordTokenizer(tokenizer)
    if model_type == "BPE":
        return SubwordTokenizer(tokenizer)
    raise ModelError(f"{path}: a {model_type} tokenizer; SoulsGen trains WordLevel or BPE ones, train it again")


def train_tokenizer(
    sentences: Iterable[str], max_vocab: int | None = None, min_count: int = 1, kind: str = "word"
) -> AnyTokenizer:
    """A tokenizer of `sentences`, case kept: the `max_vocab` most frequent words, or that many BPE pieces.

    `max_vocab` None or 0 takes the kind's default: 32,000 words; 4,000 pieces, or a third of the
    corpus's distinct words when that is fewer.
    """
    if kind not in TOKENIZER_KINDS:
        raise ModelError(f"tokenizer kind must be one of {', '.join(TOKENIZER_KINDS)}, got {kind!r}")
    sentences = list(sentences)
    if not max_vocab:
        max_vocab = DEFAULT_MAX_VOCAB[kind]
        if kind == "subword":
            distinct = len({word for sentence in sentences for word in split_words(sentence)})
            max_vocab = max(len(SPECIAL_TOKENS) + 1, min(max_vocab, round(distinct * SUBWORD_SHARE_OF_WORDS)))
    if kind == "word":
        tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
        trainer = trainers.WordLevelTrainer(
            vocab_size=max_vocab, min_frequency=min_count, special_tokens=list(SPECIAL_TOKENS), show_progress=False
        )
    else:
        tokenizer = Tokenizer(models.BPE(unk_token=UNK, continuing_subword_prefix=CONTINUATION))
        trainer = trainers.BpeTrainer(
            vocab_size=max_vocab,
            min_frequency=min_count,
            special_tokens=list(SPECIAL_TOKENS),
            continuing_subword_prefix=CONTINUATION,
            show_progress=False,
        )
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="isolated")]
    )
    tokenizer.train_from_iterator(sentences, trainer)
    result = WordTokenizer(tokenizer) if kind == "word" else SubwordTokenizer(tokenizer)
    if result.vocab_size <= len(SPECIAL_TOKENS):
        raise ModelError("no words to build a vocabulary from: the corpus's train.txt is empty")
    return result
