import pytest
from click.testing import CliRunner

from soulsgen_lib.cli import main as soulsgen
from soulsgen_lib.model import ModelError
from soulsgen_lib.model.data import split_words
from soulsgen_lib.model.tokenizer import SPECIAL_TOKENS, detokenize, load_tokenizer, train_tokenizer

SENTENCES = [
    "The lantern-bearer's hand, once steady, shakes now.",
    'She whispered "Keep the ember..." and was gone (for good).',
    "Bells ring thrice—then silence!",
    "Is it 40% ash or 60% bone?",
    "I'll guard the gate; you guard the well: 'both' matter.",
    "Wait... the tide remembers.",
]


@pytest.mark.parametrize("sentence", SENTENCES)
def test_detokenizing_the_tokens_gives_back_the_sentence(sentence):
    tokenizer = train_tokenizer(SENTENCES)
    ids = tokenizer.encode(sentence)
    assert [tokenizer.id_to_token(i) for i in ids] == split_words(sentence)
    assert tokenizer.decode(ids) == sentence


def test_words_keep_case_apostrophes_and_hyphens():
    assert split_words("The lantern-bearer's THE the") == ["The", "lantern-bearer's", "THE", "the"]
    assert detokenize(["(", "a", ")", ",", "b", "...", "c"]) == "(a), b... c"


def test_special_tokens_come_first_and_unknown_words_map_to_unk():
    tokenizer = train_tokenizer(SENTENCES)
    assert [tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, tokenizer.unk_id] == [0, 1, 2, 3]
    ids = tokenizer.encode_sentence("The zebra shakes.")
    assert ids[0] == tokenizer.bos_id and ids[-1] == tokenizer.eos_id
    assert ids[2] == tokenizer.unk_id
    assert "<unk>" not in tokenizer.decode(ids) and "zebra" not in tokenizer.decode(ids)


def test_max_vocab_keeps_the_most_frequent_tokens():
    tokenizer = train_tokenizer(["a a a b b c", "a b"], max_vocab=len(SPECIAL_TOKENS) + 2)
    assert tokenizer.token_to_id("a") is not None and tokenizer.token_to_id("b") is not None
    assert tokenizer.token_to_id("c") is None


def test_saved_tokenizer_reloads_with_the_same_ids_and_hash(tmp_path):
    tokenizer = train_tokenizer(SENTENCES)
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = load_tokenizer(tmp_path / "tokenizer.json")
    assert loaded.sha256() == tokenizer.sha256()
    assert loaded.encode(SENTENCES[1]) == tokenizer.encode(SENTENCES[1])


def test_missing_or_broken_tokenizer_files_give_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="tokenizer missing"):
        load_tokenizer(tmp_path / "tokenizer.json")
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="not a readable tokenizer"):
        load_tokenizer(tmp_path / "tokenizer.json")


def test_empty_training_text_is_refused():
    with pytest.raises(ModelError, match="empty"):
        train_tokenizer([])


def test_tokenizer_train_command_writes_tokenizer_json(tmp_path, model_corpus_dir):
    result = CliRunner().invoke(
        soulsgen, ["tokenizer", "train", "--corpus", str(model_corpus_dir), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    tokenizer = load_tokenizer(tmp_path / "m" / "tokenizer.json")
    assert tokenizer.token_to_id("knight") is not None


def test_tokenizer_train_command_reports_a_missing_corpus_in_one_line(tmp_path):
    result = CliRunner().invoke(soulsgen, ["tokenizer", "train", "--corpus", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "train.txt: missing" in result.output and "Traceback" not in result.output


# Our own sentences with the tokens that used to come back changed: elisions ("y'", "o'"), plural
# possessives ("Kings'"), leading apostrophes, numbers with separators, an opening ellipsis.
ROUND_TRIP = [
    "Listen here, y' hear me?",
    "The Kings' crown lies in the dust.",
    "'Tis the hour of the moth.",
    "Go on down the road o' bones, y' fool!",
    '"Take it," said the smith, "and go."',
    "'Farewell,' she said, and left the King's hall.",
    "She said 'rest' and slept by the lords' fire.",
    "‘Rest now,’ the crone said to the lords’ heir.",
    "He had 5,000 souls and 3.5 runes at 12:30.",
    "...and so the flame fades.",
    "The ember—cold and grey—fell (or so they say).",
    "Ash and/or bone; is it 40% ash?!",
]


@pytest.mark.parametrize("kind", ["word", "subword"])
def test_every_corpus_sentence_comes_back_as_written(kind):
    tokenizer = train_tokenizer(ROUND_TRIP, kind=kind)
    for sentence in ROUND_TRIP:
        ids = tokenizer.encode(sentence)
        assert tokenizer.unk_id not in ids
        assert tokenizer.decode(ids) == sentence
    assert split_words("y' hear, the Kings' crown") == ["y'", "hear", ",", "the", "Kings'", "crown"]
