"""The sub-word option: BPE pieces, decoded only along corpus words, so no word is ever invented."""

import json
import random

import pytest
import torch
from click.testing import CliRunner

from soulsgen_lib.cli import main as soulsgen
from soulsgen_lib.model import ModelError
from soulsgen_lib.model.constraint import WordConstraint
from soulsgen_lib.model.data import split_words
from soulsgen_lib.model.evaluate import evaluate_model
from soulsgen_lib.model.generate import GenerationError, GenerationRequest, Generator, texts_or_error
from soulsgen_lib.model.gpt import GPT
from soulsgen_lib.model.tokenizer import CONTINUATION, SubwordTokenizer, load_tokenizer, train_tokenizer
from soulsgen_lib.model.train import prepare_tokenizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SENTENCES = [
    "The lantern-bearer's hand, once steady, shakes now.",
    'She whispered "Keep the ember..." and was gone (for good).',
    "Bells ring thrice—then silence!",
    "I'll guard the gate; you guard the well: 'both' matter.",
]


@pytest.fixture(scope="module")
def train_sentences(model_corpus_dir) -> list[str]:
    return (model_corpus_dir / "train.txt").read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def corpus_words(train_sentences) -> set[str]:
    return {word for sentence in train_sentences for word in split_words(sentence)}


def test_pieces_spell_the_sentence_back_without_continuation_marks(tmp_path):
    tokenizer = train_tokenizer(SENTENCES, max_vocab=60, kind="subword")
    assert isinstance(tokenizer, SubwordTokenizer)
    for sentence in SENTENCES:
        ids = tokenizer.encode(sentence)
        assert len(ids) > len(split_words(sentence))  # a small vocabulary splits words into pieces
        assert any(tokenizer.is_continuation(i) for i in ids)
        assert tokenizer.decode(ids) == sentence
        assert CONTINUATION not in tokenizer.decode(ids)
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = load_tokenizer(tmp_path / "tokenizer.json")
    assert isinstance(loaded, SubwordTokenizer) and loaded.sha256() == tokenizer.sha256()


def test_a_folder_keeps_one_tokenizer_kind(tmp_path, model_corpus_dir):
    prepare_tokenizer(model_corpus_dir, tmp_path, kind="word")
    assert prepare_tokenizer(model_corpus_dir, tmp_path).kind == "word"  # no kind asked: the folder's
    with pytest.raises(ModelError, match="a word tokenizer, but a subword one was asked for"):
        prepare_tokenizer(model_corpus_dir, tmp_path, kind="subword")
    with pytest.raises(ModelError, match="tokenizer kind must be one of word, subword"):
        train_tokenizer(SENTENCES, kind="bytes")


def test_random_walks_under_the_mask_spell_only_corpus_words(train_sentences, corpus_words):
    tokenizer = train_tokenizer(train_sentences, max_vocab=90, kind="subword")
    constraint = WordConstraint(tokenizer, corpus_words)
    rng = random.Random(0)
    for _ in range(200):
        spelled, ids = "", []
        while True:
            allowed = constraint.allowed(spelled).nonzero().squeeze(1).tolist()
            assert allowed, f"dead end after {spelled!r}"
            token = rng.choice(allowed)
            if token == tokenizer.eos_id or len(ids) > 40:
                break
            ids.append(token)
            spelled = constraint.advance(spelled, token)
        words = tokenizer.words_of(ids)
        if token == tokenizer.eos_id:
            assert set(words) <= corpus_words
        else:  # stopped mid-sentence: only the last word may be unfinished
            assert set(words[:-1]) <= corpus_words


def test_an_untrained_model_still_writes_only_corpus_words(tiny_subword_model_dir, corpus_words):
    """The guarantee is structural: random weights garble freely, yet every word is a corpus word."""
    generator = Generator.load(tiny_subword_model_dir, device="cpu")
    torch.manual_seed(0)
    generator.model = GPT(generator.model.config).eval()
    drafts = generator.draft([GenerationRequest(seed=s, prompt="") for s in range(100)])
    assert sum(draft.problem == "too_long" for draft in drafts) > 10  # cut off mid-word, unfinished word dropped
    for draft in drafts:
        assert set(split_words(draft.text)) <= corpus_words, draft.text
    generator.constraint = None  # the same weights, unconstrained, glue pieces into new words
    unconstrained = generator.draft([GenerationRequest(seed=s, prompt="") for s in range(100)])
    assert any(not set(split_words(draft.text)[:-1]) <= corpus_words for draft in unconstrained)


def test_a_trained_subword_model_writes_new_sentences_from_corpus_words(
    tiny_subword_model_dir, train_sentences, corpus_words
):
    card = json.loads((tiny_subword_model_dir / "model_card.json").read_text())
    assert card["tokenizer"]["kind"] == "subword" and card["tokenizer"]["vocab_size"] == 120
    assert card["sampling"]["temperature"] == 1.0  # no word classes: one temperature, not the hot within-class one
    generator = Generator.load(tiny_subword_model_dir, device="cpu")
    sentences = generator.sample(12, seed=1)
    assert len(set(sentences)) == 12
    for sentence in sentences:
        assert set(split_words(sentence)) <= corpus_words, sentence
        assert sentence not in train_sentences
    assert generator.sample(4, seed=9) == generator.sample(4, seed=9)


def test_prompts_must_be_corpus_words_even_when_pieces_could_spell_them(tiny_subword_model_dir, corpus_words):
    generator = Generator.load(tiny_subword_model_dir, device="cpu")
    assert generator.tokenizer.unk_id not in generator.tokenizer.encode("Thesething")  # pieces can spell it
    [refused] = generator.generate([GenerationRequest(prompt="Thesething old")])
    assert refused.text is None and isinstance(refused.error, GenerationError)
    assert "never saw ('Thesething')" in str(refused.error)
    started = texts_or_error(generator.generate([GenerationRequest(prompt="The old", seed=s) for s in range(3)]))
    assert all(split_words(sentence)[:2] == ["The", "old"] for sentence in started)
    # The prompt's last word stays whole: "A" must not grow into "Across" or "A" + "##..." pieces.
    drafts = generator.draft([GenerationRequest(prompt="A", seed=s) for s in range(40)])
    assert all(split_words(draft.text)[0] == "A" for draft in drafts)
    generator.defaults.prompt = "familiar"
    familiar = {generator.tokenizer.decode(ids) for ids in generator._familiar_ids}
    assert familiar and familiar <= corpus_words
    assert any(len(ids) > 1 for ids in generator._familiar_ids)  # several pieces: still one familiar word
    for sentence in generator.sample(6, seed=4):
        assert split_words(sentence)[0] in familiar


def test_train_command_and_scorecard_with_the_subword_tokenizer(tmp_path, model_corpus_dir):
    def train(steps: int, *extra: str):
        args = ["--corpus", str(model_corpus_dir), "--out", str(tmp_path / "m"), "--preset", "tiny", "--quiet"]
        return CliRunner().invoke(soulsgen, ["train", *args, "--steps", str(steps), *extra])

    result = train(30, "--tokenizer", "subword")
    assert result.exit_code == 0, result.output
    assert isinstance(load_tokenizer(tmp_path / "m" / "tokenizer.json"), SubwordTokenizer)
    again = train(2)  # without --tokenizer a run keeps the folder's kind (as --resume needs)
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "m" / "model_card.json").read_text())["tokenizer"]["kind"] == "subword"
    refused = train(2, "--tokenizer", "word")
    assert refused.exit_code == 1 and "a subword tokenizer, but a word one was asked for" in refused.output
    scorecard = evaluate_model(tmp_path / "m", model_corpus_dir, tmp_path / "eval", count=20, progress=False)
    assert scorecard["model"]["raw"]["invented_word_rate"] == 0
    assert scorecard["tokenizer"] == "subword"
    # Several pieces per word: the per-token figure flatters a sub-word model, the per-word one compares.
    assert scorecard["test_perplexity_per_word"] > scorecard["test_perplexity"] ** 1.2


def test_the_default_piece_count_keeps_a_small_corpus_sub_word(train_sentences, corpus_words):
    tokenizer = train_tokenizer(train_sentences, kind="subword")
    alphabet = {char for word in corpus_words for char in word}
    # A third of the words, but never fewer than the letters and their continuation forms BPE keeps.
    assert tokenizer.vocab_size <= max(round(len(corpus_words) / 3), 4 + 2 * len(alphabet))
    assert tokenizer.vocab_size < len(corpus_words)
    words = [word for sentence in train_sentences for word in split_words(sentence)]
    assert len(tokenizer.encode(" ".join(words))) > 1.2 * len(words)


def test_corpus_words_are_split_as_the_tokenizer_splits_and_never_lead_to_a_dead_end():
    decomposed = "The cafe\u0301 keeper sleeps."  # NFD: "é" as "e" + a combining accent
    tokenizer = train_tokenizer([decomposed, "A kiln burns."], max_vocab=40, kind="subword")
    words = tokenizer.spelled_words([decomposed, "A quill burns."])  # "quill": letters it never saw
    assert "café" in words and "quill" not in words  # normalised as the pieces are; unspellable left out
    assert "caf" not in words and "keeper" in words
    dead_end = WordConstraint(tokenizer, {"kilnz"})  # a word the pieces cannot finish: "##z" never seen
    spelled = ""
    for token in tokenizer.encode("kiln"):
        spelled = dead_end.advance(spelled, token)
    with pytest.raises(ModelError, match="no piece continues 'kiln'"):
        dead_end.allowed(spelled)
