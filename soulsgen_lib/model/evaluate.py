"""Score a model's sentences against its corpus, beside a markovify baseline scored the same way.

The scorecard: test perplexity; first-try pass rate of the filters; copy, near-copy and
invented-word rates (raw and after filtering); distinct-2; words per sentence against the test
split and the Jensen-Shannon divergence of the two length histograms; the acceptance rate of
the filters; MAUVE against the test split on MiniLM sentence embeddings, mean and spread over
several sampling seeds; word-class 4-gram perplexity (fluency) beside the test split's own, and,
where spaCy's English pipeline is installed, the field's part-of-speech 4-gram perplexity (coarse
UPOS and fine Penn tags) under the train split's tag model, beside the test split's. The
same count of the train split's own sentences, drawn per seed, is scored the same way: how far
real game text gets on each distribution measure against a test split this size (MAUVE's cluster
histograms of a few hundred sentences keep even real text below 1). It writes scorecard.json
and an HTML report with the lexical charts of the corpus, the model and the baseline side by
side, and random accepted sentences beside random test sentences. markovify, MAUVE and the
lexical report are imported lazily.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Callable, Container, Sequence
from pathlib import Path
from typing import Any

from soulsgen_lib.atomic import write_text_atomic
from soulsgen_lib.folders import EvaluationFolder
from soulsgen_lib.model.config import SamplingDefaults
from soulsgen_lib.model.data import read_sentences
from soulsgen_lib.model.decoding import row_seed
from soulsgen_lib.model.errors import ModelError
from soulsgen_lib.model.filters import FilterConfig, FilterContext, first_failure
from soulsgen_lib.model.fluency import TAG_SETS, ClassNgramModel, PartOfSpeechFluency
from soulsgen_lib.model.generate import GenerationRequest, Generator
from soulsgen_lib.model.likelihood import LikelihoodConfig, calibrate_ceiling, sentence_losses
from soulsgen_lib.model.novelty import NoveltyIndex, sentence_words

# A draft source: (how many, round number) -> [(sentence, first failed filter or None)].
DraftSource = Callable[[int, int], list[tuple[str, str | None]]]
LENGTH_BINS = 61  # words per sentence 0..59, and 60 or more
MAX_ROUNDS = 8
SAMPLING_SEEDS = 3  # MAUVE varies by a few hundredths between seeds: report mean and spread
SHOWN_SENTENCES = 20  # random accepted sentences shown beside random test sentences
POS_TRAIN_LIMIT = 20_000  # train sentences the tag model is counted from: tagging is the slow part


def js_divergence(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon divergence of two histograms, base 2 (0 = identical, 1 = disjoint)."""
    p_total, q_total = sum(p) or 1.0, sum(q) or 1.0
    divergence = 0.0
    for a, b in zip(p, q, strict=True):
        a, b = a / p_total, b / q_total
        middle = (a + b) / 2
        if a:
            divergence += 0.5 * a * math.log2(a / middle)
        if b:
            divergence += 0.5 * b * math.log2(b / middle)
    return divergence


def length_histogram(sentences: Sequence[str]) -> list[int]:
    counts = [0] * LENGTH_BINS
    for sentence in sentences:
        counts[min(len(sentence.split()), LENGTH_BINS - 1)] += 1
    return counts


def distinct_2(sentences: Sequence[str]) -> float:
    """Share of word bigrams that are distinct, over all sentences together."""
    bigrams = [pair for s in sentences for pair in zip(sentence_words(s), sentence_words(s)[1:], strict=False)]
    return len(set(bigrams)) / len(bigrams) if bigrams else 0.0


def collect(draft: DraftSource, count: int, max_rounds: int = MAX_ROUNDS) -> tuple[list[tuple[str, str | None]], dict]:
    """First-round drafts and, resampling what failed (duplicates included), up to `count` accepted sentences."""
    first = draft(count, 0)
    accepted: list[str] = []
    seen: set[str] = set()
    rejected: Counter[str] = Counter()
    sampled = 0
    batch = first
    for round_number in range(max_rounds):
        if round_number:
            batch = draft(count - len(accepted), round_number)
        for text, problem in batch:
            sampled += 1
            problem = problem or ("duplicate" if text in seen else None)
            if problem:
                rejected[problem] += 1
                continue
            seen.add(text)
            accepted.append(text)
        if len(accepted) >= count:
            break
    stats = {"sampled": sampled, "accepted": len(accepted), "rejected": dict(rejected.most_common())}
    stats["acceptance_rate"] = round(len(accepted) / sampled, 4) if sampled else 0.0
    return first, {"accepted_sentences": accepted, **stats}


def text_figures(sentences: Sequence[str], test_sentences: Sequence[str]) -> dict:
    """Distinct-2, mean words per sentence beside the test split's, and the JS divergence of their length histograms."""
    return {
        "distinct_2": round(distinct_2(sentences), 4),
        "mean_words": round(sum(len(s.split()) for s in sentences) / max(len(sentences), 1), 2),
        "test_mean_words": round(sum(len(s.split()) for s in test_sentences) / max(len(test_sentences), 1), 2),
        "length_js_divergence": round(js_divergence(length_histogram(sentences), length_histogram(test_sentences)), 4),
    }


def score(
    first: list[tuple[str, str | None]],
    collected: dict,
    novelty: NoveltyIndex,
    vocabulary: set[str],
    test_sentences: Sequence[str],
    seed: int = 0,
) -> dict:
    """The scorecard of one generator from its first-round drafts and its accepted sentences (`seed` picks examples)."""
    raw = [text for text, _ in first]
    accepted = collected["accepted_sentences"]
    seen: set[str] = set()
    first_pass = 0
    for text, problem in first:
        first_pass += problem is None and text not in seen
        seen.add(text)

    def rates(sentences: Sequence[str]) -> dict:
        problems = Counter(novelty.problem(s) for s in sentences)
        words = [w for s in sentences for w in sentence_words(s)]
        invented = sum(w not in vocabulary for w in words)
        total = max(len(sentences), 1)
        return {
            "sentences": len(sentences),
            "copy_rate": round(problems["copy"] / total, 4),
            "near_copy_rate": round(problems["near_copy"] / total, 4),
            "invented_word_rate": round(invented / max(len(words), 1), 5),
            "invented_words": sorted({w for w in words if w not in vocabulary})[:20],
        }

    return {
        "first_try_pass_rate": round(first_pass / max(len(first), 1), 4),
        "raw": rates(raw),
        "filtered": rates(accepted),
        **text_figures(accepted, test_sentences),
        "acceptance_rate": collected["acceptance_rate"],
        "rejected": collected["rejected"],
        "examples": random.Random(seed).sample(accepted, min(SHOWN_SENTENCES, len(accepted))),
    }


def reference_card(sample: Sequence[str], test_sentences: Sequence[str]) -> dict:
    """The distribution figures of real train sentences: the yardstick for the generators' own."""
    return {"sentences": len(sample), **text_figures(sample, test_sentences)}


def new_train_sentences(train_sentences: Sequence[str], size: int, seed: int) -> list[str]:
    """Of `size` real train sentences drawn at random, those the novelty filter passes against the rest of train.txt.

    A generator may not copy or nearly copy its training text, and much of a game's text is
    formulaic: a fifth of Elden Ring's test split nearly copies its train split. These sentences
    show what real text reaches under the same rule, and so how near the generator can come.
    """
    order = list(range(len(train_sentences)))
    random.Random(seed).shuffle(order)
    rest = NoveltyIndex.from_texts(train_sentences[i] for i in order[size:])
    return [s for s in (train_sentences[i] for i in order[:size]) if rest.problem(s) is None]


def model_drafts(
    generator: Generator,
    seed: int,
    chunk: int = 250,
    progress: Callable[[int], None] | None = None,
    likelihood_ceiling: float | None = None,
) -> DraftSource:
    """A draft source sampling the model (chunks bound the batch); round r uses seeds of its own.

    With a `likelihood_ceiling`, drafts past every other filter are also checked by the likelihood
    filter (last in the list), as the generator will once the filter is wired into it.
    """

    def draft(count: int, round_number: int) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for start in range(0, count, chunk):
            size = min(chunk, count - start)
            seeds = [row_seed(seed, round_number * 1_000_003 + start + i) for i in range(size)]
            drafts = generator.draft([GenerationRequest(seed=s) for s in seeds])
            if likelihood_ceiling is not None:
                passed = [d for d in drafts if d.problem is None]
                texts = [d.text for d in passed]
                losses = sentence_losses(generator.model, generator.tokenizer, texts, generator.device) if texts else []
                for d, loss in zip(passed, losses, strict=True):
                    d.problem = "unlikely" if loss > likelihood_ceiling else None
            out += [(d.text, d.problem) for d in drafts]
            if progress:
                progress(size)
        return out

    return draft


def markov_drafts(train_sentences: Sequence[str], novelty: NoveltyIndex, seed: int) -> DraftSource:
    """A draft source from markovify (state size 2) on the same train.txt, put through the model's filters."""
    import markovify

    chain = markovify.NewlineText("\n".join(train_sentences), state_size=2, retain_original=False)
    rng = random.Random(seed)

    def draft(count: int, round_number: int) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for _ in range(count):
            state = random.getstate()
            random.seed(rng.getrandbits(64))  # markovify draws from the global `random`
            text = chain.make_sentence(test_output=False) or ""
            random.setstate(state)
            out.append((text, first_failure(text, FilterConfig(), FilterContext(novelty))))
        return out

    return draft


def test_perplexity(generator: Generator, test_sentences: Sequence[str]) -> tuple[float, float]:
    """Perplexity on test.txt per token (as training reports it), and per word: the one to compare tokenizers by.

    Per word, the loss of every scored token after a sentence's `<s>` is shared among the words those
    tokens spell plus the end of the sentence (the easy `<s>` predictions between packed sentences
    are left out).
    """
    from soulsgen_lib.model.data import evaluate_loss, validation_blocks

    tok, model, block = generator.tokenizer, generator.model, generator.model.config.block_size
    scored = [tok.encode_sentence(s)[: block + 1] for s in test_sentences]  # as validation_blocks cuts them
    blocks = validation_blocks(scored, block, tok.pad_id)
    per_token = evaluate_loss(model, blocks, tok.pad_id, generator.device)
    after_start = evaluate_loss(model, blocks, tok.pad_id, generator.device, skip_ids=(tok.bos_id,))
    tokens = sum(len(ids) - 1 for ids in scored)
    specials = {tok.pad_id, tok.bos_id, tok.eos_id}
    words = sum(
        sum(i not in specials and not tok.is_continuation(i) for i in ids) + (ids[-1] == tok.eos_id) for ids in scored
    )
    return math.exp(per_token), math.exp(after_start * tokens / words)


def own_ceiling(generator: Generator, quantile: float, seed: int, count: int = 300) -> float:
    """The likelihood filter's ceiling: the `quantile` of the losses of `count` of the model's own sentences.

    They are drawn with seeds of their own (`seed` + 1,000,000 on), apart from those scored after.
    """
    _, collected = collect(model_drafts(generator, seed + 1_000_000), count)
    config = LikelihoodConfig(quantile=quantile)
    return calibrate_ceiling(
        generator.model, generator.tokenizer, collected["accepted_sentences"], generator.device, config
    )


def distribution_measures(
    runs: dict[str, list[list[str]]],
    train_sentences: Sequence[str],
    test_sentences: Sequence[str],
    seed: int,
    in_sample: Container[str] = (),
) -> dict:
    """MAUVE against the test split per sampling seed (mean, spread) and word-class perplexity of each generator.

    `runs` maps a generator's name to its accepted sentences, one list per sampling seed; fluency is
    scored on the first seed's list, as are the other scorecard figures, except for the runs named in
    `in_sample`: sentences the tag model was counted from would score as more fluent than they are.
    """
    from soulsgen_lib.model.mauve import MAUVE_MIN, mauve_score, sentence_embeddings

    real = sentence_embeddings(test_sentences)
    fluency = ClassNgramModel(train_sentences)
    measures: dict = {"test": {"fluency_perplexity": _finite(fluency.perplexity(test_sentences))}}
    for name, sentence_sets in runs.items():
        # MAUVE of a handful of sentences says nothing: a seed that got fewer than ten is left out.
        by_seed = [mauve_score(sentence_embeddings(s), real, seed) for s in sentence_sets if len(s) >= MAUVE_MIN]
        mean = sum(by_seed) / len(by_seed) if by_seed else 0.0
        spread = math.sqrt(sum((m - mean) ** 2 for m in by_seed) / len(by_seed)) if by_seed else 0.0
        measures[name] = {
            "mauve": round(mean, 4) if by_seed else None,
            "mauve_spread": round(spread, 4) if by_seed else None,
            "mauve_by_seed": [round(m, 4) for m in by_seed],
        }
        if name not in in_sample:
            measures[name]["fluency_perplexity"] = _finite(fluency.perplexity(sentence_sets[0]))
    return measures


def pos_fluency(
    train_sentences: Sequence[str], test_sentences: Sequence[str], runs: dict[str, Sequence[str]], nlp: Any = None
) -> dict:
    """Part-of-speech fluency of the test split and each run: {"test": {"upos": ..., "penn": ...}, name: {...}}.

    `nlp` is a spaCy pipeline with a tagger; None loads the English one, and without it the result
    is {"note": how to install it}: word-class fluency needs nothing, this measure needs the tagger.
    """
    from soulsgen_lib.corpus.lexical import SPACY_HINT, SPACY_MODEL

    tagging = train_tag_models(train_sentences, nlp)
    if tagging is None:
        return {"note": f"part-of-speech fluency needs spaCy's {SPACY_MODEL}; add it with `{SPACY_HINT}`"}
    scored = {"test": test_sentences, **runs}
    return {
        name: {tag_set: _finite(perplexity) for tag_set, perplexity in tagging.perplexities(sentences).items()}
        for name, sentences in scored.items()
    }


def train_tag_models(train_sentences: Sequence[str], nlp: Any = None) -> PartOfSpeechFluency | None:
    """The train split's part-of-speech models (up to `POS_TRAIN_LIMIT` sentences of it), or None without a tagger.

    `nlp` is a spaCy pipeline with a tagger; None loads the English one where it is installed.
    """
    from soulsgen_lib.corpus.lexical import load_english

    nlp = nlp if nlp is not None else load_english(disable=("lemmatizer", "parser", "ner"))
    if nlp is None:
        return None
    if len(train_sentences) > POS_TRAIN_LIMIT:
        train_sentences = random.Random(0).sample(list(train_sentences), POS_TRAIN_LIMIT)
    return PartOfSpeechFluency(train_sentences, nlp)


def _finite(perplexity: float) -> float | None:
    """A perplexity for the scorecard; None when nothing was scored (JSON and XCom refuse infinity)."""
    return round(perplexity, 3) if math.isfinite(perplexity) else None


def evaluate_model(
    model_dir: Path,
    corpus_dir: Path,
    out_dir: Path,
    count: int = 1000,
    seed: int = 0,
    baseline: bool = True,
    device: str | None = None,
    progress: bool = True,
    sampling: dict | None = None,
    sampling_seeds: int = SAMPLING_SEEDS,
    likelihood_quantile: float | None = None,
    likelihood_ceiling: float | None = None,
) -> dict:
    """Write scorecard.json and report.html into `out_dir` and return the scorecard.

    `count` sentences are sampled per sampling seed (`seed`, `seed` + 1, ...); with `baseline`,
    markovify is scored beside the model and so are `count` real train sentences per seed
    ("train_sentences": the figures real text reaches), and those of up to `count` more that are new
    to the rest of train.txt ("new_train_sentences": what real text reaches under the novelty
    filter). `sampling` overrides
    fields of the model's `SamplingDefaults` (how defaults are tuned). `likelihood_quantile` adds the
    likelihood filter with its ceiling at that quantile of the model's own sentences (`own_ceiling`);
    `likelihood_ceiling` gives the ceiling itself (a calibrated one).
    """
    if sampling_seeds < 1:
        raise ModelError(f"sampling_seeds must be at least 1, got {sampling_seeds}")
    train_sentences = read_sentences(Path(corpus_dir) / "train.txt")
    test_sentences = read_sentences(Path(corpus_dir) / "test.txt")
    generator = Generator.load(Path(model_dir), device=device)
    if sampling:
        unknown = set(sampling) - set(SamplingDefaults.__dataclass_fields__)
        if unknown:
            raise ModelError(f"unknown sampling settings: {', '.join(sorted(unknown))}")
        generator.defaults = dataclasses.replace(generator.defaults, **sampling)
    novelty = NoveltyIndex.from_texts(train_sentences)
    vocabulary = {w for s in train_sentences for w in sentence_words(s)}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(desc="sampling", unit="sentence", file=sys.stderr, dynamic_ncols=True)
    update = bar.update if bar is not None else None
    ceiling = likelihood_ceiling
    if ceiling is None and likelihood_quantile is not None:
        ceiling = own_ceiling(generator, likelihood_quantile, seed)
    model_runs = [
        collect(model_drafts(generator, seed + k, progress=update, likelihood_ceiling=ceiling), count)
        for k in range(sampling_seeds)
    ]
    if bar is not None:
        bar.close()
    per_token, per_word = test_perplexity(generator, test_sentences)
    scorecard: dict = {
        "model_version": generator.model_version,
        "count": count,
        "seed": seed,
        "sampling_seeds": sampling_seeds,
        "sampling": dataclasses.asdict(generator.defaults),
        "likelihood_filter": {"quantile": likelihood_quantile, "ceiling": ceiling and round(ceiling, 4)},
        "tokenizer": generator.tokenizer.kind,
        "test_perplexity": round(per_token, 3),
        "test_perplexity_per_word": round(per_word, 3),
        "model": score(*model_runs[0], novelty, vocabulary, test_sentences, seed),
    }
    runs = {"model": [collected["accepted_sentences"] for _, collected in model_runs]}
    columns = {"corpus (test.txt)": test_sentences, "model": runs["model"][0]}
    if baseline:
        markov_runs = [collect(markov_drafts(train_sentences, novelty, seed + k), count) for k in range(sampling_seeds)]
        scorecard["markovify"] = score(*markov_runs[0], novelty, vocabulary, test_sentences, seed)
        runs["markovify"] = [collected["accepted_sentences"] for _, collected in markov_runs]
        columns["markovify (state size 2)"] = runs["markovify"][0]
        size = min(count, len(train_sentences))  # seeds of their own, apart from the sampling seeds
        runs["train_sentences"] = [
            random.Random(seed + 2_000_000 + k).sample(train_sentences, size) for k in range(sampling_seeds)
        ]
        scorecard["train_sentences"] = reference_card(runs["train_sentences"][0], test_sentences)
        held_out = min(count, len(train_sentences) // 3)  # the rest, two thirds or more, is what they must be new to
        runs["new_train_sentences"] = [
            new_train_sentences(train_sentences, held_out, seed + 3_000_000 + k) for k in range(sampling_seeds)
        ]
        scorecard["new_train_sentences"] = reference_card(runs["new_train_sentences"][0], test_sentences)
    real_runs = {"train_sentences", "new_train_sentences"}
    measures = distribution_measures(runs, train_sentences, test_sentences, seed, in_sample=real_runs)
    scorecard["test_fluency_perplexity"] = measures.pop("test")["fluency_perplexity"]
    for name, values in measures.items():
        scorecard[name].update(values)
    # The real train sentences are left out: the tag model is counted from them.
    tagged = pos_fluency(
        train_sentences, test_sentences, {name: sets[0] for name, sets in runs.items() if name not in real_runs}
    )
    scorecard["test_pos_perplexity"] = tagged.pop("test", None)
    scorecard["pos_fluency_note"] = tagged.pop("note", None)
    for name, values in tagged.items():
        scorecard[name]["pos_perplexity"] = values
    shown = random.Random(seed).sample(test_sentences, min(SHOWN_SENTENCES, len(test_sentences)))
    out_dir = Path(out_dir)
    write_text_atomic(out_dir / EvaluationFolder.SCORECARD, json.dumps(scorecard, indent=2, ensure_ascii=False) + "\n")
    write_text_atomic(out_dir / EvaluationFolder.REPORT, render_html(scorecard, columns, shown))
    return scorecard


_ROWS = (
    ("first-try pass rate", lambda s: s["first_try_pass_rate"]),
    ("acceptance rate (all samples)", lambda s: s["acceptance_rate"]),
    ("copies, raw / filtered", lambda s: f"{s['raw']['copy_rate']} / {s['filtered']['copy_rate']}"),
    ("near-copies, raw / filtered", lambda s: f"{s['raw']['near_copy_rate']} / {s['filtered']['near_copy_rate']}"),
    (
        "invented words, raw / filtered",
        lambda s: f"{s['raw']['invented_word_rate']} / {s['filtered']['invented_word_rate']}",
    ),
    ("distinct-2", lambda s: s["distinct_2"]),
    ("MAUVE vs test split, mean ± spread (by seed)", lambda s: _mauve_cell(s)),
    ("fluency: word-class 4-gram perplexity", lambda s: s["fluency_perplexity"]),
    ("fluency: part-of-speech 4-gram perplexity, UPOS / Penn", lambda s: _pos_cell(s["pos_perplexity"])),
    ("mean words (test split)", lambda s: f"{s['mean_words']} ({s['test_mean_words']})"),
    ("length JS divergence", lambda s: s["length_js_divergence"]),
    ("rejected by filter", lambda s: ", ".join(f"{k} {v}" for k, v in s["rejected"].items()) or "none"),
)


_COLUMN_TITLES = {
    "model": "model",
    "markovify": "markovify",
    "train_sentences": "real train sentences (yardstick)",
    "new_train_sentences": "real train sentences new to the rest (yardstick under the novelty filter)",
}


def _cell(value: Callable[[dict], object], card: dict) -> str:
    """A scorecard cell; a measure the column has no figure for (the real sentences pass no filters) shows a dash."""
    try:
        return str(value(card))
    except KeyError:
        return "—"


def _pos_cell(perplexities: dict) -> str:
    return " / ".join(str(perplexities[tag_set]) for tag_set in TAG_SETS)


def _mauve_cell(card: dict) -> str:
    by_seed = " / ".join(str(m) for m in card["mauve_by_seed"])
    return f"{card['mauve']} ± {card['mauve_spread']} ({by_seed})"


def _pos_test_cell(scorecard: dict) -> str:
    test = scorecard["test_pos_perplexity"]
    return _pos_cell(test) if test else scorecard["pos_fluency_note"]


def scorecard_html(scorecard: dict, shown_test: Sequence[str]) -> str:
    """The scorecard as an HTML table, one column per generator, then random sentences beside real test ones."""
    names = [name for name in _COLUMN_TITLES if name in scorecard]
    head = "".join(f"<th>{html.escape(_COLUMN_TITLES[name])}</th>" for name in names)
    rows = [
        f"<tr><th>test perplexity per token ({scorecard['tokenizer']} tokenizer) / per word</th>"
        f"<td>{scorecard['test_perplexity']} / {scorecard['test_perplexity_per_word']}</td></tr>",
        f"<tr><th>fluency of the test split itself (word-class 4-gram perplexity)</th>"
        f"<td>{scorecard['test_fluency_perplexity']}</td></tr>",
        "<tr><th>fluency of the test split itself (part-of-speech 4-gram perplexity, UPOS / Penn)</th>"
        f"<td>{html.escape(_pos_test_cell(scorecard))}</td></tr>",
    ]
    for label, value in _ROWS:
        cells = "".join(f"<td>{html.escape(_cell(value, scorecard[name]))}</td>" for name in names)
        rows.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    lists = {
        f"{name}: {SHOWN_SENTENCES} random accepted sentences": scorecard[name]["examples"]
        for name in names
        if "examples" in scorecard[name]
    }
    lists[f"test split: {SHOWN_SENTENCES} random real sentences"] = list(shown_test)
    side_by_side = "".join(
        f"<td style='vertical-align:top'><h3>{html.escape(title)}</h3><ol>"
        + "".join(f"<li>{html.escape(text)}</li>" for text in texts)
        + "</ol></td>"
        for title, texts in lists.items()
    )
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table><table><tr>{side_by_side}</tr></table>"


def render_html(scorecard: dict, columns: dict[str, list[str]], shown_test: Sequence[str]) -> str:
    """The lexical report of the corpus and the generated text, with the scorecard on top."""
    from soulsgen_lib.corpus.lexical import lexical_stats, render_report

    stats = {name: lexical_stats(sentences) for name, sentences in columns.items()}
    title = f"SoulsGen evaluation: model {scorecard['model_version']}"
    return render_report(stats, title, extra_sections=[("Scorecard", scorecard_html(scorecard, shown_test))])
