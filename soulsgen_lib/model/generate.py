"""Generate sentences: validated requests in, one result or one error per request out.

All valid requests are decoded together (`decoding.Decoder`); a row whose sentence fails a filter
(`filters.FILTERS`) is resampled, up to `max_rounds` rounds. A bad request or one that finds no
sentence gets its own error; the others are answered.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from soulsgen_lib.folders import ModelFolder
from soulsgen_lib.model.config import PROMPT_STRATEGIES, GPTConfig, SamplingDefaults
from soulsgen_lib.model.constraint import WordConstraint
from soulsgen_lib.model.data import split_words
from soulsgen_lib.model.decoding import Decoder, DecodeRow, Draft, row_seed
from soulsgen_lib.model.device import bf16_supported, pick_device
from soulsgen_lib.model.errors import ModelError
from soulsgen_lib.model.filters import FilterConfig, FilterContext, first_failure
from soulsgen_lib.model.fluency import ClassNgramModel, FluencyConfig, most_frequent_words
from soulsgen_lib.model.gpt import GPT
from soulsgen_lib.model.novelty import NoveltyIndex
from soulsgen_lib.model.shaping import ShapeRules
from soulsgen_lib.model.tokenizer import AnyTokenizer, SubwordTokenizer
from soulsgen_lib.textcheck import TWEET_MAX_WEIGHT

MAX_PROMPT_CHARS = 500  # checked before tokenizing; any prompt a model can continue is far shorter
MAX_SEED = 2**64 - 1  # the largest seed a torch generator takes
REQUEST_FIELDS = ("prompt", "temperature", "top_p", "max_chars", "seed", "prompt_strategy")


class GenerationError(ModelError):
    """A generation request is invalid, or no sentence passed the filters."""


def shown(value: object, limit: int = 40) -> str:
    """A short repr of a user's value for an error message: never megabytes of input."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


@dataclass
class GenerationRequest:
    """One sentence wanted; None fields take the model's tuned defaults.

    prompt None = follow `prompt_strategy` ("familiar": a random familiar word from words.txt,
    "none": no prompt; None: the model's tuned strategy), "" = no prompt, other text = the start.
    """

    prompt: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_chars: int | None = None
    seed: int | None = None
    prompt_strategy: str | None = None

    @classmethod
    def from_fields(cls, fields: object, allowed: tuple[str, ...] = REQUEST_FIELDS) -> GenerationRequest:
        """A request from a decoded JSON object with known field names; the values are checked by `validate`."""
        if not isinstance(fields, dict):
            raise GenerationError(f"the request must be a JSON object, got {type(fields).__name__}")
        unknown = sorted((key for key in fields if key not in allowed), key=str)
        if unknown:
            raise GenerationError(f"unknown field {shown(unknown[0])}: use {', '.join(allowed)}")
        return cls(**fields)

    def validate(self) -> None:
        """Check every field's type and range (the prompt's length before any tokenizing).

        `Generator.generate` calls it once per request; a failure becomes that request's error.
        """
        _check_number("temperature", self.temperature, 0, 5, low_open=True)
        _check_number("top_p", self.top_p, 0, 1, low_open=True)
        _check_whole("max_chars", self.max_chars, 20, TWEET_MAX_WEIGHT)
        _check_whole("seed", self.seed, 0, MAX_SEED)
        if self.prompt_strategy is not None and self.prompt_strategy not in PROMPT_STRATEGIES:
            raise GenerationError(
                f"prompt_strategy must be one of {', '.join(PROMPT_STRATEGIES)}, got {shown(self.prompt_strategy)}"
            )
        if self.prompt is None:
            return
        if not isinstance(self.prompt, str):
            raise GenerationError(f"prompt must be text, got {type(self.prompt).__name__}")
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise GenerationError(f"prompt is too long ({len(self.prompt)} characters, at most {MAX_PROMPT_CHARS})")
        try:
            self.prompt.encode("utf-8")
        except UnicodeEncodeError:
            raise GenerationError("prompt holds a lone surrogate (not valid Unicode text)") from None


def _check_number(name: str, value: object, low: float, high: float, low_open: bool = False) -> None:
    if value is None:
        return
    in_range = isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
    if not in_range or (low_open and value == low):
        interval = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise GenerationError(f"{name} must be a number in {interval}, got {shown(value)}")


def _check_whole(name: str, value: object, low: int, high: int) -> None:
    if value is None:
        return
    if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
        raise GenerationError(f"{name} must be a whole number from {low} to {high}, got {shown(value)}")


@dataclass
class GenerationResult:
    """A request's answer: the sentence and the prompt it started from, or the error that stopped it."""

    text: str | None = None
    prompt: str | None = None
    error: GenerationError | None = None


@dataclass
class GenerationStats:
    """Counts over every sampled row: how many were accepted and why the others were rejected."""

    sampled: int = 0
    accepted: int = 0
    first_try: int = 0  # requests accepted on their first sample
    requests: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.sampled if self.sampled else 0.0

    @property
    def first_try_rate(self) -> float:
        return self.first_try / self.requests if self.requests else 0.0

    def to_dict(self) -> dict:
        return {
            "requests": self.requests,
            "sampled": self.sampled,
            "accepted": self.accepted,
            "acceptance_rate": round(self.acceptance_rate, 4),
            "first_try_rate": round(self.first_try_rate, 4),
            "rejected": dict(self.rejected.most_common()),
        }


@dataclass
class Candidate:
    """A raw sample with the first filter it fails (None: it passed): what evaluation scores."""

    text: str
    problem: str | None
    token_count: int


class Generator:
    """A trained model folder loaded for sampling."""

    def __init__(
        self,
        model: GPT,
        tokenizer: AnyTokenizer,
        novelty: NoveltyIndex,
        familiar: list[tuple[list[int], int]],
        defaults: SamplingDefaults,
        model_version: str,
        device: torch.device,
        constraint: WordConstraint | None = None,
        filters: FilterConfig | None = None,
        grammar_sentences: list[str] | None = None,
    ) -> None:
        """`grammar_sentences` are the training sentences the class grammar is counted from (None: no grammar)."""
        self.filters = filters or FilterConfig()
        self.decoder = Decoder(model, tokenizer, device, constraint)
        self.tokenizer = tokenizer
        self.novelty = novelty
        self.grammar_sentences = grammar_sentences
        self._glue_words_count: int | None = None
        self._grammar: ClassNgramModel | None = None
        self._shape_run: int | None = None
        self.defaults = defaults
        self.model_version = model_version
        self.device = device
        self.stats = GenerationStats()
        self._familiar_ids = [ids for ids, _ in familiar]
        self._familiar_cumulative = torch.tensor([count for _, count in familiar], dtype=torch.float64).cumsum(0)

    @property
    def defaults(self) -> SamplingDefaults:
        return self._defaults

    @defaults.setter
    def defaults(self, defaults: SamplingDefaults) -> None:
        self._defaults = defaults
        if defaults.glue_words != self._glue_words_count:
            grammar = None
            if self.grammar_sentences and self.tokenizer.kind == "word":
                grammar = ClassNgramModel(self.grammar_sentences, FluencyConfig(glue_words=defaults.glue_words))
                glue = grammar.glue
            else:
                words = (word for sentence in self.novelty.sentences for word in sentence)
                glue = most_frequent_words(words, defaults.glue_words)
            self.decoder.use_glue_words(glue)
            self._grammar = grammar
            self._glue_words_count = defaults.glue_words
        self.decoder.use_grammar(self._grammar, defaults.grammar_weight)
        if defaults.max_shared_run != self._shape_run:
            novelty, run = self.novelty, defaults.max_shared_run
            self.decoder.shape = ShapeRules(
                self.tokenizer, self.filters.min_words, novelty.bigrams, novelty.sentences, run
            )
            self._shape_run = run

    @property
    def model(self) -> GPT:
        return self.decoder.model

    @model.setter
    def model(self, model: GPT) -> None:
        self.decoder.model = model

    @property
    def constraint(self) -> WordConstraint | None:
        """A sub-word model's guard against invented words (None: word-level, nothing to guard)."""
        return self.decoder.constraint

    @constraint.setter
    def constraint(self, constraint: WordConstraint | None) -> None:
        self.decoder.constraint = constraint

    @classmethod
    def load(cls, model_dir: Path, device: str | None = None, precision: str | None = None) -> Generator:
        """Load a model folder (`ModelFolder`) for sampling.

        `precision` "bf16" halves the weights' memory traffic (faster single sentences on CPUs
        with bf16 support); None means bf16 on GPUs that support it, fp32 elsewhere.
        """
        folder = ModelFolder(Path(model_dir))
        if precision not in (None, "fp32", "bf16"):
            raise GenerationError(f"precision must be fp32 or bf16, got {precision!r}")
        folder.require_complete()
        target = pick_device(device)
        tokenizer = folder.load_tokenizer()
        checkpoint = folder.load_weights(target)
        weights_file = folder.file(ModelFolder.WEIGHTS)
        if checkpoint.get("tokenizer_sha256") != tokenizer.sha256():
            raise ModelError(f"{weights_file}: trained with another tokenizer than {ModelFolder.TOKENIZER} beside it")
        try:
            model = GPT(GPTConfig.from_dict(checkpoint["model_config"]))
            model.load_state_dict(checkpoint["model"])
        except (KeyError, TypeError, RuntimeError) as error:
            raise ModelError(f"{weights_file}: unreadable ({type(error).__name__}); train again") from None
        model.to(target)
        if precision == "bf16" or (precision is None and bf16_supported(target)):
            model.to(torch.bfloat16)
        card = folder.card()
        defaults = SamplingDefaults.from_dict(card.get("sampling", {}))
        # Older cards kept the filter limits among the sampling settings.
        filters = FilterConfig.from_dict(card.get("filters") or card.get("sampling", {}))
        constraint = None
        if isinstance(tokenizer, SubwordTokenizer):
            words = folder.corpus_words()
            if not words:
                raise ModelError(f"{folder.file(ModelFolder.CORPUS_WORDS)}: a sub-word model needs its corpus words")
            constraint = WordConstraint(tokenizer, words)
        vocabulary = constraint.words if constraint else None
        familiar = read_familiar_words(folder.file(ModelFolder.WORDS), tokenizer, vocabulary)
        version = str(card.get("model_version", "unknown"))
        from soulsgen_lib.model.calibrate import read_calibration  # it builds on this module

        calibration = read_calibration(folder.path, version)
        if calibration:  # sampling that `soulsgen evaluate --calibrate` picked for this model's corpus
            defaults = dataclasses.replace(defaults, **calibration["sampling"])
        novelty = folder.load_novelty()
        grammar = folder.train_sentences()
        return cls(model, tokenizer, novelty, familiar, defaults, version, target, constraint, filters, grammar)

    def sample(self, n: int, seed: int | None = None, prompt: str | None = None) -> list[str]:
        """`n` accepted sentences (the same seed gives the same ones on CPU); GenerationError if any failed."""
        base = secrets.randbits(62) if seed is None else seed
        results = self.generate([GenerationRequest(prompt=prompt, seed=row_seed(base, i)) for i in range(n)])
        return texts_or_error(results)

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """One result per request, the valid ones decoded in one batch; rows that fail a filter are resampled."""
        results = [GenerationResult() for _ in requests]
        plans: dict[int, _Plan] = {}
        for index, request in enumerate(requests):
            try:
                plans[index] = self._plan(request)
            except GenerationError as error:
                results[index].error = error
        accepted_texts: set[str] = set()
        pending = list(plans)
        self.stats.requests += len(plans)
        for attempt in range(self.defaults.max_rounds):
            copies = min(4, attempt + 1)  # later rounds try a few samples per stubborn request at once
            owners = [index for index in pending for _ in range(copies)]
            drafts = self.decoder.decode(
                [plans[index].next_row() for index in owners], self.defaults.top_k, self.defaults.shaped
            )
            for index, draft in zip(owners, drafts, strict=True):
                if results[index].text is not None:
                    continue
                problem = self._problem(draft, plans[index].max_chars, accepted_texts)
                self.stats.sampled += 1
                if problem:
                    self.stats.rejected[problem] += 1
                    continue
                prompt = requests[index].prompt
                results[index].text = draft.text
                results[index].prompt = prompt if prompt is not None else self.tokenizer.decode(draft.prompt_ids)
                accepted_texts.add(draft.text)
                self.stats.accepted += 1
                self.stats.first_try += attempt == 0
            pending = [index for index in pending if results[index].text is None]
            if not pending:
                break
        for index in pending:
            results[index].error = GenerationError(
                f"no sentence past the filters in {self.defaults.max_rounds} rounds "
                f"(prompt {shown(requests[index].prompt)}); try another prompt or temperature"
            )
        return results

    def draft(self, requests: list[GenerationRequest]) -> list[Candidate]:
        """One raw sample per request with the first filter it fails (no resampling): for evaluation."""
        drafts = self.decoder.decode(
            [self._plan(request).next_row() for request in requests], self.defaults.top_k, self.defaults.shaped
        )
        seen: set[str] = set()
        out = []
        for request, draft in zip(requests, drafts, strict=True):
            max_chars = self.filters.max_chars if request.max_chars is None else request.max_chars
            out.append(Candidate(draft.text, self._problem(draft, max_chars, seen), draft.token_count))
            seen.add(draft.text)
        return out

    def first_failure(self, text: str, max_chars: int | None = None, accepted: set[str] | None = None) -> str | None:
        """The first filter a finished sentence fails under this model's filter config and corpus, or None."""
        same = max_chars is None or max_chars == self.filters.max_chars
        config = self.filters if same else dataclasses.replace(self.filters, max_chars=max_chars)
        return first_failure(text, config, FilterContext(self.novelty, accepted or set()))

    def _problem(self, draft: Draft, max_chars: int, accepted: set[str]) -> str | None:
        return "too_long" if not draft.ended else self.first_failure(draft.text, max_chars, accepted)

    def _plan(self, request: GenerationRequest) -> _Plan:
        """Validate a request and fix its settings and random stream."""
        request.validate()
        d = self.defaults
        temperature = d.temperature if request.temperature is None else request.temperature
        top_p = d.top_p if request.top_p is None else request.top_p
        max_chars = self.filters.max_chars if request.max_chars is None else request.max_chars
        seed = secrets.randbits(62) if request.seed is None else request.seed
        rng = torch.Generator().manual_seed(seed)
        strategy = d.prompt if request.prompt_strategy is None else request.prompt_strategy
        if request.prompt is not None:
            fixed_prompt = self._encode_prompt(request.prompt)
        else:
            fixed_prompt = None if strategy == "familiar" else []
        return _Plan(self, rng, fixed_prompt, float(temperature), float(top_p), max_chars)

    def _encode_prompt(self, prompt: str) -> list[int]:
        if not prompt.strip():
            return []
        ids = self.tokenizer.encode(prompt.strip())
        if len(ids) > self.model.config.block_size // 2:
            raise GenerationError(
                f"prompt is too long ({len(ids)} tokens, at most {self.model.config.block_size // 2})"
            )
        if self.constraint is not None:
            unknown = self.constraint.unknown_words(self.tokenizer.split(prompt))
        else:
            unknown = [word for word in split_words(prompt) if self.tokenizer.encode(word) == [self.tokenizer.unk_id]]
        if unknown or self.tokenizer.unk_id in ids:
            listed = ", ".join(shown(word) for word in unknown[:5]) or "some words"
            raise GenerationError(f"prompt has words the model never saw ({listed}); use words from the corpus")
        return ids

    def familiar_prompt(self, rng: torch.Generator) -> list[int]:
        """A frequent corpus word to start with, drawn by frequency (the old bot's legibility trick)."""
        if len(self._familiar_ids) == 0:
            return []
        draw = float(torch.rand(1, generator=rng, dtype=torch.float64)) * float(self._familiar_cumulative[-1])
        position = int(torch.searchsorted(self._familiar_cumulative, torch.tensor([draw], dtype=torch.float64)))
        return self._familiar_ids[min(position, len(self._familiar_ids) - 1)]


def texts_or_error(results: list[GenerationResult]) -> list[str]:
    """The sentences of `results`; the first error (with how many requests failed) when any failed."""
    failed = [result.error for result in results if result.error is not None]
    if failed:
        raise GenerationError(f"{len(failed)} of {len(results)} requests failed; the first: {failed[0]}")
    return [result.text for result in results if result.text is not None]


class _Plan:
    """A request's fixed settings and its own random stream, turned into a decoding row per attempt."""

    def __init__(
        self,
        owner: Generator,
        rng: torch.Generator,
        fixed_prompt: list[int] | None,
        temperature: float,
        top_p: float,
        max_chars: int,
    ) -> None:
        self.owner = owner
        self.rng = rng
        self.fixed_prompt = fixed_prompt
        self.temperature, self.top_p, self.max_chars = temperature, top_p, max_chars

    def next_row(self) -> DecodeRow:
        prompt = self.fixed_prompt if self.fixed_prompt is not None else self.owner.familiar_prompt(self.rng)
        steps = self.owner.model.config.block_size
        uniforms = torch.rand(steps, generator=self.rng, dtype=torch.float32)
        defaults = self.owner.defaults
        return DecodeRow(
            prompt,
            uniforms,
            self.temperature,
            self.top_p,
            self.max_chars,
            defaults.min_p,
            defaults.class_temperature,
        )


def read_familiar_words(
    path: Path, tokenizer: AnyTokenizer, vocabulary: frozenset[str] | None = None
) -> list[tuple[list[int], int]]:
    """(token ids, count) of words.txt entries that can open a sentence: their capitalised form is a corpus word.

    A word-level tokenizer knows its words; a sub-word one spells any word, so `vocabulary` says which are real.
    """
    familiar: Counter[tuple[int, ...]] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        word, _, count = line.partition("\t")
        word = word.strip()
        opening = word[:1].upper() + word[1:]
        ids = tuple(tokenizer.encode(opening)) if opening[:1].isupper() else ()
        real = vocabulary is None or opening in vocabulary
        if real and ids and tokenizer.unk_id not in ids and tokenizer.words_of(ids) == [opening]:
            familiar[ids] += int(count) if count.strip().isdigit() else 1
    return [(list(ids), count) for ids, count in familiar.most_common()]
