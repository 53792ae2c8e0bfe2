"""Fluency without a network: perplexity of word-class sequences under a 4-gram model of the train split.

Every word is replaced by its class: the most frequent words of the train split (articles, pronouns,
prepositions, auxiliaries: the glue of grammar) stand for themselves, punctuation stands for
itself, and every other word becomes a coarse class from its shape and ending (capitalised name,
number, "-ly", "-ing", "-ed", plural "-s", other). A sentence that keeps the order real text puts
these classes in ("the <-ing> <word> of <Name>") scores low; word salad, whose glue words land
anywhere, scores far higher. Nothing here depends on a tagger model that cannot be installed
offline, so the figure is the same on every machine.

The field's measure, the same n-gram model over part-of-speech tags (`PartOfSpeechFluency`), takes a
spaCy tagger from the caller: it is the independent check, as the decoder itself leans on the
word-class model.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from soulsgen_lib.model.data import is_word, split_words

START, END = "<s>", "</s>"
# Suffix classes, checked in order; each needs a stem of at least three letters before it.
_ENDINGS = (("ly", "<ly>"), ("ing", "<ing>"), ("ed", "<ed>"), ("est", "<est>"), ("er", "<er>"), ("s", "<s-end>"))


@dataclass(frozen=True)
class FluencyConfig:
    """Settings of the word-class n-gram model."""

    order: int = 4  # classes of context + 1
    glue_words: int = 150  # this many most frequent train words keep their own class


def most_frequent_words(words: Iterable[str], count: int) -> frozenset[str]:
    """The `count` most frequent of `words` (a corpus's case-folded words): the glue words, each a class of its own."""
    return frozenset(word for word, _ in Counter(words).most_common(count))


def word_class(token: str, glue: frozenset[str]) -> str:
    """The class a token stands for: itself for glue words and punctuation, else its shape/ending class."""
    if not is_word(token):
        return token
    folded = token.casefold()
    if folded in glue:
        return folded
    if token[:1].isdigit():
        return "<num>"
    if token[:1].isupper():
        return "<Name>"
    for ending, name in _ENDINGS:
        if folded.endswith(ending) and len(folded) >= len(ending) + 3:
            return name
    return "<word>"


class NgramModel:
    """An interpolated Witten-Bell n-gram model over label sequences (word classes, part-of-speech tags).

    Each sequence is given whole, its end label (`END`) included; histories are padded with `START`.
    """

    def __init__(self, sequences: Iterable[Sequence[str]], order: int = 4) -> None:
        self.order = order
        # counts[h][w] for every context length 0..order-1 (h is a tuple of labels)
        self.counts: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        for sequence in sequences:
            padded = [START] * (order - 1) + list(sequence)
            for i in range(order - 1, len(padded)):
                for n in range(order):
                    self.counts[tuple(padded[i - n : i])][padded[i]] += 1
        self.totals = {history: sum(c.values()) for history, c in self.counts.items()}
        self.vocabulary_size = len(self.counts[()]) + 1  # + 1: a label never seen in training

    def probability(self, history: Sequence[str], token: str) -> float:
        """P(token | history), interpolating from the unigram up to the full history."""
        probability = (self.counts[()].get(token, 0) + 1) / (self.totals.get((), 0) + self.vocabulary_size)
        for n in range(1, len(history) + 1):
            context = tuple(history[len(history) - n :])
            following = self.counts.get(context)
            if not following:
                break
            types, total = len(following), self.totals[context]
            probability = (following.get(token, 0) + types * probability) / (total + types)
        return probability

    def sequence_perplexity(self, sequences: Iterable[Sequence[str]]) -> float:
        """Perplexity per label (`END` included) over all `sequences` together; inf for none."""
        log_sum, tokens = 0.0, 0
        width = self.order - 1
        for sequence in sequences:
            padded = [START] * width + list(sequence)
            for i in range(width, len(padded)):
                log_sum -= math.log(self.probability(padded[i - width : i], padded[i]))
                tokens += 1
        return math.exp(log_sum / tokens) if tokens else math.inf


class ClassNgramModel(NgramModel):
    """The n-gram model of the train split's word classes (see the module's docstring)."""

    def __init__(self, sentences: Iterable[str], config: FluencyConfig | None = None) -> None:
        self.config = config or FluencyConfig()
        sentences = list(sentences)
        words = (token.casefold() for sentence in sentences for token in split_words(sentence) if is_word(token))
        self.glue = most_frequent_words(words, self.config.glue_words)
        super().__init__((self.classes(sentence) for sentence in sentences), self.config.order)

    def classes(self, sentence: str) -> list[str]:
        """The sentence as word classes, ending with `</s>`."""
        return [word_class(token, self.glue) for token in split_words(sentence)] + [END]

    def perplexity(self, sentences: Iterable[str]) -> float:
        """Perplexity per class token (`</s>` included) over all `sentences` together; inf for none."""
        return self.sequence_perplexity(self.classes(sentence) for sentence in sentences)


TAG_SETS = ("upos", "penn")  # spaCy's coarse universal tags (token.pos_) and fine Penn Treebank tags (token.tag_)


class PartOfSpeechFluency:
    """The train split's part-of-speech n-gram models, one per tag set: tag it once, score many sentence sets.

    `nlp` is a spaCy pipeline with a tagger: the field's fluency measure, independent of the word
    classes the decoder itself leans on.
    """

    def __init__(self, train_sentences: Sequence[str], nlp: Any, order: int = 4) -> None:
        self.nlp = nlp
        train_tags = self._tagged(train_sentences)
        self.models = {
            tag_set: NgramModel(([tags[index] for tags in sentence] + [END] for sentence in train_tags), order)
            for index, tag_set in enumerate(TAG_SETS)
        }

    def _tagged(self, sentences: Sequence[str]) -> list[list[tuple[str, str]]]:
        return [[(token.pos_, token.tag_) for token in doc] for doc in self.nlp.pipe(sentences, batch_size=256)]

    def perplexities(self, sentences: Sequence[str]) -> dict[str, float]:
        """{"upos": perplexity, "penn": perplexity} of `sentences` together under the train split's tag models."""
        tagged = self._tagged(sentences)
        return {
            tag_set: model.sequence_perplexity([tags[index] for tags in sentence] + [END] for sentence in tagged)
            for index, (tag_set, model) in enumerate(self.models.items())
        }
