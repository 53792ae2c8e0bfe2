import dataclasses
import math
import random
import shutil
from collections import Counter

import pytest
import torch
from click.testing import CliRunner

from soulsgen_lib.cli import main as soulsgen
from soulsgen_lib.model import ModelError
from soulsgen_lib.model.data import is_word, split_words
from soulsgen_lib.model.decoding import can_open_sentence
from soulsgen_lib.model.filters import article_mismatch, first_failure
from soulsgen_lib.model.fluency import START
from soulsgen_lib.model.generate import GenerationError, GenerationRequest, Generator, texts_or_error
from soulsgen_lib.model.novelty import NoveltyIndex, longest_common_run, sentence_words

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def generator(tiny_model_dir) -> Generator:
    return Generator.load(tiny_model_dir, device="cpu")


@pytest.fixture(scope="module")
def train_sentences(model_corpus_dir) -> list[str]:
    return (model_corpus_dir / "train.txt").read_text(encoding="utf-8").splitlines()


def test_accepted_sentences_pass_every_filter(generator, train_sentences):
    sentences = generator.sample(30, seed=1)
    assert len(sentences) == 30 and len(set(sentences)) == 30
    index = NoveltyIndex.from_texts(train_sentences)
    vocabulary = {token for line in train_sentences for token in split_words(line)}
    for sentence in sentences:
        assert first_failure(sentence) is None, sentence
        assert index.problem(sentence) is None, sentence
        assert sentence not in train_sentences
        assert all(token in vocabulary for token in split_words(sentence))  # no invented words


def test_same_seed_same_sentences_and_a_row_ignores_its_batch(generator):
    assert generator.sample(8, seed=5) == generator.sample(8, seed=5)
    assert generator.sample(8, seed=5) != generator.sample(8, seed=6)
    alone = generator.generate([GenerationRequest(seed=42)])
    in_batch = generator.generate([GenerationRequest(seed=7), GenerationRequest(seed=42), GenerationRequest(seed=9)])
    assert in_batch[1] == alone[0]


def test_rows_stop_at_the_end_token_instead_of_filling_the_context(tiny_model_dir):
    generator = Generator.load(tiny_model_dir, device="cpu")
    # The tiny model knows little beyond its corpus's runs: barred from replaying them, some rows run on.
    generator.defaults = dataclasses.replace(generator.defaults, max_shared_run=0)
    drafts = generator.draft([GenerationRequest(seed=s) for s in range(40)])
    lengths = [draft.token_count for draft in drafts]
    ended_early = [length for length in lengths if length < generator.model.config.block_size - 1]
    assert len(ended_early) >= 0.9 * len(lengths)
    assert len(set(lengths)) > 3  # each row ended on its own


def test_prompts_familiar_word_none_or_user_text(tiny_model_dir):
    generator = Generator.load(tiny_model_dir, device="cpu")
    generator.defaults = dataclasses.replace(generator.defaults, prompt="familiar")
    familiar_first_words = {generator.tokenizer.decode(ids) for ids in generator._familiar_ids}
    for sentence in generator.sample(10, seed=3):
        assert split_words(sentence)[0] in familiar_first_words
    started = texts_or_error(generator.generate([GenerationRequest(prompt="The old knight", seed=s) for s in range(5)]))
    assert all(sentence.startswith("The old knight ") for sentence in started)
    assert len(generator.generate([GenerationRequest(prompt="", seed=1)])) == 1


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (GenerationRequest(prompt="The purple zeppelin"), "never saw"),
        (GenerationRequest(temperature=0), "temperature"),
        (GenerationRequest(top_p=1.5), "top_p"),
        (GenerationRequest(max_chars=1000), "max_chars"),
        (GenerationRequest(seed=-1), "seed"),
    ],
)
def test_a_bad_request_gets_its_own_error_and_the_others_their_sentences(generator, request_, message):
    good, bad = generator.generate([GenerationRequest(seed=1), request_])
    assert good.error is None and good.text
    assert bad.text is None and isinstance(bad.error, GenerationError)
    with pytest.raises(GenerationError, match=message):
        raise bad.error


def test_statistics_count_every_sample_and_rejection(tiny_model_dir):
    generator = Generator.load(tiny_model_dir, device="cpu")
    generator.sample(40, seed=11)
    stats = generator.stats
    assert stats.requests == 40 and stats.accepted == 40
    assert stats.sampled == stats.accepted + sum(stats.rejected.values())
    assert 0 < stats.acceptance_rate <= 1 and 0 < stats.first_try_rate <= 1


def test_sentences_open_like_sentences_and_do_not_stutter(generator):
    drafts = generator.draft([GenerationRequest(prompt="", seed=s) for s in range(60)])
    assert all(can_open_sentence(split_words(d.text)[0]) for d in drafts if d.text)
    generator_problem = generator.first_failure("The bell rings and rings the the bell again.", 280)
    assert generator_problem == "repeated_word"
    assert generator.first_failure("Rings, rings... the bell.", 280) != "repeated_word"


def test_impossible_filters_end_with_a_clear_error(tiny_model_dir):
    generator = Generator.load(tiny_model_dir, device="cpu")
    generator.filters = dataclasses.replace(generator.filters, min_words=50)
    generator.defaults = dataclasses.replace(generator.defaults, max_rounds=2)
    with pytest.raises(GenerationError, match="no sentence past the filters in 2 rounds"):
        generator.sample(3, seed=1)
    assert generator.stats.rejected["too_few_words"] > 0


def test_short_character_budget_is_respected(generator):
    for sentence in texts_or_error(generator.generate([GenerationRequest(max_chars=60, seed=s) for s in range(10)])):
        assert len(sentence) <= 60


def test_loading_an_incomplete_folder_names_what_is_missing(tmp_path, tiny_model_dir):
    import shutil

    shutil.copytree(tiny_model_dir, tmp_path / "m")
    (tmp_path / "m" / "words.txt").unlink()
    with pytest.raises(ModelError, match=r"missing words\.txt"):
        Generator.load(tmp_path / "m")


def test_generate_command_prints_sentences_to_stdout_and_stats_to_stderr(tiny_model_dir):
    result = CliRunner().invoke(soulsgen, ["generate", "--model", str(tiny_model_dir), "-n", "5", "--seed", "7"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 5 and all(first_failure(line) is None for line in lines)
    assert "acceptance_rate" in result.stderr and "acceptance_rate" not in result.stdout
    again = CliRunner().invoke(soulsgen, ["generate", "--model", str(tiny_model_dir), "-n", "5", "--seed", "7"])
    assert again.stdout == result.stdout
    bad = CliRunner().invoke(soulsgen, ["generate", "--model", str(tiny_model_dir), "--prompt", "Zyzzyva"])
    assert bad.exit_code == 1 and "never saw" in bad.stderr


def test_novelty_index_finds_the_longest_shared_run_like_a_full_scan():
    rng = random.Random(0)
    words = ["ash", "bell", "crown", "dark", "ember", "fog", "gate", "hollow", "iron"]
    corpus = [" ".join(rng.choices(words, k=rng.randint(3, 12))) + "." for _ in range(200)]
    index = NoveltyIndex.from_texts(corpus)
    for _ in range(200):
        probe = sentence_words(" ".join(rng.choices(words, k=rng.randint(3, 10))))
        scan = max(longest_common_run(probe, sentence_words(s)) for s in corpus)
        assert index.longest_shared_run(probe) == scan


def test_novelty_rule_copies_and_near_copies():
    index = NoveltyIndex.from_texts(["The moth sleeps in the cold lamp tonight.", "A bell tolls far away."])
    assert index.problem("the moth sleeps in the cold lamp tonight!") == "copy"
    assert index.problem("The moth sleeps in the cold lamp forever.") == "near_copy"  # 7 of 8 words
    assert index.problem("A bell tolls for the moth tonight.") is None  # 3 of 7 words
    assert index.problem("A bell tolls far.", near_copy_ratio=1.0) == "near_copy"
    assert all(is_word(w) for w in sentence_words("Bells, toll!"))


def test_bf16_weights_generate_valid_sentences_and_other_precisions_are_refused(tiny_model_dir):
    generator = Generator.load(tiny_model_dir, device="cpu", precision="bf16")
    assert generator.model.wte.weight.dtype.is_floating_point and generator.model.wte.weight.itemsize == 2
    assert all(first_failure(sentence) is None for sentence in generator.sample(5, seed=2))
    with pytest.raises(GenerationError, match="precision must be fp32 or bf16"):
        Generator.load(tiny_model_dir, precision="fp16")


def test_a_or_an_must_agree_with_the_next_word():
    corpus = {("an", "ewer")}  # a pair the corpus uses passes whatever the rule says
    wrong_ones = ("Heavier than an kiln.", "A ember burns.", "She kept a abyss.", "An squire waits.", "An halberd.")
    wrong_ones += ('He said: "A ember."', "A Ōkami.")
    for wrong in wrong_ones:
        assert article_mismatch(wrong, corpus), wrong
    for right in (
        "An ember burns in a kiln.",
        "It was an honest mistake, a unique blade, an unlit torch, an hour, a one-eyed knight, an heir.",
        "A halberd and a hollow.",
        "He filled an ewer.",
        "A ring; an idol; a Ring-bearer.",
        "An Élan of Ōkami; a European ewer, a ewe.",
        "Plan A is lost, and Rune A opens an X-ray of an HP bar.",
    ):
        assert not article_mismatch(right, corpus), right


def test_a_sentence_with_a_wrong_article_is_rejected(generator):
    assert generator.first_failure("The old knight guards an broken lantern.", 280) == "article"
    assert generator.first_failure("The old knight guards an empty crown beneath the tower.", 280) is None


def test_min_p_drops_tokens_far_less_likely_than_the_likeliest(generator):
    vocab = generator.tokenizer.vocab_size
    logits = torch.full((2, vocab), -math.inf)
    likely, middling, rare = 10, 11, 12
    logits[:, [likely, middling, rare]] = torch.log(torch.tensor([0.6, 0.3, 0.1]))
    last_draw = torch.tensor([0.999, 0.999])  # inverse CDF: the least likely token still allowed
    one, off = torch.ones(2), torch.zeros(2)
    chosen = generator.decoder._choose(logits.clone(), one, off, one, torch.tensor([0.0, 0.2]), last_draw, top_k=0)
    assert chosen.tolist() == [rare, middling]  # 0.1 < 0.2 * 0.6: cut in the second row only
    sentences = generator.sample(20, seed=3)
    generator.defaults = dataclasses.replace(generator.defaults, min_p=0.1)
    try:
        assert all(first_failure(text) is None for text in generator.sample(20, seed=3))
    finally:
        generator.defaults = dataclasses.replace(generator.defaults, min_p=0.0)
    assert generator.sample(20, seed=3) == sentences


def _class_logits(generator: Generator) -> tuple[torch.Tensor, list[int], list[int]]:
    """Logits over two glue words ("the", "of") and three other words of one class."""
    tok, classes = generator.tokenizer, generator.decoder._classes
    glue = [tok.token_to_id(word) for word in ("the", "of")]
    words = [i for i in range(tok.vocab_size) if tok.id_to_token(i).isalpha()]
    largest = Counter(int(classes[i]) for i in words).most_common(1)[0][0]  # a shape class, not a glue word
    names = [i for i in words if classes[i] == largest][:3]
    logits = torch.full((1, tok.vocab_size), -math.inf)
    logits[0, glue + names] = torch.log(torch.tensor([0.35, 0.25, 0.2, 0.15, 0.05]))
    return logits, glue, names


@pytest.fixture(scope="module")
def few_glue_words(tiny_model_dir) -> Generator:
    """A generator whose glue words are so few that the tiny corpus's other words share shape classes."""
    generator = Generator.load(tiny_model_dir, device="cpu")
    generator.defaults = dataclasses.replace(generator.defaults, glue_words=40)
    return generator


def test_a_cool_class_and_a_hot_word_keep_the_word_odds_within_a_class(few_glue_words):
    decoder = few_glue_words.decoder
    logits, glue, names = _class_logits(few_glue_words)
    values, indices = torch.topk(logits, 5, dim=1)
    plain = torch.softmax(values, dim=1)
    same = decoder._class_then_word(values, indices, plain, torch.ones(1))
    assert torch.allclose(same, plain)  # both temperatures 1: the model's own distribution
    hot_words = torch.softmax(values / 2.0, dim=1)
    cooled = decoder._class_then_word(values, indices, hot_words, torch.tensor([0.5]))
    by_token = dict(zip(indices[0].tolist(), cooled[0].tolist(), strict=True))
    hot = dict(zip(indices[0].tolist(), hot_words[0].tolist(), strict=True))
    assert math.isclose(sum(by_token.values()), 1.0, rel_tol=1e-5)
    # Within the words' class the odds are the hot word temperature's; the classes' own are cooled.
    assert math.isclose(by_token[names[0]] / by_token[names[2]], hot[names[0]] / hot[names[2]], rel_tol=1e-4)
    name_mass = sum(by_token[i] for i in names)
    assert math.isclose(by_token[glue[0]] / name_mass, (0.35 / 0.4) ** 2, rel_tol=1e-4)


def test_the_grammar_multiplies_the_class_odds_and_keeps_the_word_odds(few_glue_words):
    decoder = few_glue_words.decoder
    logits, glue, names = _class_logits(few_glue_words)
    values, indices = torch.topk(logits, 5, dim=1)
    word_probs = torch.softmax(values / 1.5, dim=1)
    the_class, name_class = int(decoder._classes[glue[0]]), int(decoder._classes[names[0]])
    odds = torch.zeros(1, decoder._class_count)
    odds[0, the_class], odds[0, name_class] = math.log(0.1), math.log(0.4)
    decoder.use_grammar(few_glue_words._grammar, 0.5)
    try:
        leaned = decoder._class_then_word(values, indices, word_probs, torch.ones(1), odds)
    finally:
        decoder.use_grammar(few_glue_words._grammar, few_glue_words.defaults.grammar_weight)
    by_token = dict(zip(indices[0].tolist(), leaned[0].tolist(), strict=True))
    words = dict(zip(indices[0].tolist(), word_probs[0].tolist(), strict=True))
    assert math.isclose(sum(by_token.values()), 1.0, rel_tol=1e-5)
    assert math.isclose(by_token[names[0]] / by_token[names[1]], words[names[0]] / words[names[1]], rel_tol=1e-4)
    name_mass = sum(by_token[i] for i in names)
    # The network's odds of "the" against the names (0.35 : 0.4) times the grammar's (0.1 : 0.4) ** 0.5.
    assert math.isclose(by_token[glue[0]] / name_mass, 0.35 / 0.4 * (0.1 / 0.4) ** 0.5, rel_tol=1e-4)


def test_the_grammar_comes_from_the_folders_train_sentences_and_follows_the_weight(tiny_model_dir, tmp_path):
    generator = Generator.load(tiny_model_dir, device="cpu")
    grammar, decoder = generator._grammar, generator.decoder
    kept = (tiny_model_dir / "train_sentences.txt").read_text(encoding="utf-8").splitlines()
    assert grammar is not None and generator.grammar_sentences == kept
    assert decoder._grammar_weight == generator.defaults.grammar_weight > 0
    history = torch.zeros(1, grammar.config.order - 1, dtype=torch.long)  # a sentence's start
    odds = decoder._grammar_log_odds(history)[0].exp()
    opener = max(decoder._class_names[1:], key=lambda name: grammar.probability([START] * 3, name))
    assert decoder._class_names[int(odds.argmax())] == opener  # the class the train split opens with most
    assert math.isclose(float(odds[1:].sum()), 1.0, rel_tol=0.05)  # all but classes no token writes
    leaning = generator.sample(20, seed=5)
    assert all(first_failure(text) is None for text in leaning)
    generator.defaults = dataclasses.replace(generator.defaults, grammar_weight=0.0)
    assert decoder._grammar_weight == 0.0 and generator.sample(20, seed=5) != leaning
    older = tmp_path / "older"  # a folder trained before the train sentences were kept
    shutil.copytree(tiny_model_dir, older)
    (older / "train_sentences.txt").unlink()
    without = Generator.load(older, device="cpu")
    assert without._grammar is None and decoder._grammar is not None
    assert all(first_failure(text) is None for text in without.sample(10, seed=5))


def test_class_temperature_gives_valid_sentences_and_zero_turns_it_off(tiny_model_dir):
    generator = Generator.load(tiny_model_dir, device="cpu")
    assert generator.defaults.class_temperature > 0
    by_class = generator.sample(20, seed=4)
    assert all(first_failure(text) is None for text in by_class)
    assert generator.sample(20, seed=4) == by_class
    generator.defaults = dataclasses.replace(generator.defaults, class_temperature=0.0)
    assert generator.sample(20, seed=4) != by_class


def test_the_shared_run_rule_follows_the_defaults(tiny_model_dir):
    generator = Generator.load(tiny_model_dir, device="cpu")
    assert generator.defaults.max_shared_run == 5
    assert all(len(run) == 4 for run in generator.decoder.shape.replaying)
    sentences = generator.sample(30, seed=2)
    index = generator.novelty
    for sentence in sentences:
        words = [w for w in split_words(sentence.casefold()) if is_word(w)]
        runs = {tuple(words[i : i + 5]) for i in range(len(words) - 4)}
        corpus_runs = {tuple(w[i : i + 5]) for w in index.sentences for i in range(len(w) - 4)}
        assert not runs & corpus_runs, sentence
    generator.defaults = dataclasses.replace(generator.defaults, max_shared_run=0)
    assert not generator.decoder.shape.replaying


def test_glue_words_come_from_the_corpus_and_follow_the_defaults(tiny_model_dir):
    generator = Generator.load(tiny_model_dir, device="cpu")
    tok, decoder = generator.tokenizer, generator.decoder
    the, of = tok.token_to_id("the"), tok.token_to_id("of")
    assert decoder._classes[the] != decoder._classes[of]  # among the corpus's commonest words: a class each
    generator.defaults = dataclasses.replace(generator.defaults, glue_words=0)
    assert decoder._classes[the] == decoder._classes[of]  # no glue words: both are plain lowercase words
