"""The training corpus: built from game text (`build_corpus`) and described by lexical statistics (`lexical`)."""

from __future__ import annotations

from soulsgen_lib.corpus.build import CORPUS_FILES, MANIFEST, CorpusError, CorpusOptions, CorpusSummary, build_corpus

__all__ = ["CORPUS_FILES", "MANIFEST", "CorpusError", "CorpusOptions", "CorpusSummary", "build_corpus"]
