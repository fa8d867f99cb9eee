"""Message catalogues: locales/<lang>/*.toml (one file per area, merged), one mechanism for
handlers, scheduler and outbox.

Keys are dotted paths into the TOML tables. Values use str.format placeholders; every
parameter is HTML-escaped unless wrapped in `Raw` (messages are sent with parse_mode HTML).
A count takes its plural form with ICU's syntax, `{count, plural, one {# point} other {# points}}`
(`#` stands for the number); the form is chosen by CLDR's rules for the language (Babel's).
Button labels are plain text that Telegram never parses: `Translator.label` leaves parameters as
they are.
"""
from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"


class Raw(str):
    """A parameter that is already safe HTML (e.g. another rendered message)."""


class MissingKey(KeyError):
    pass


# {name, plural, one {…} other {…}}: the cases may hold plain {placeholders}, one level deep.
_PLURAL = re.compile(r"\{(\w+),\s*plural,\s*((?:(?:=\d+|zero|one|two|few|many|other)\s*"
                     r"\{(?:[^{}]|\{\w+\})*\}\s*)+)\}")
_CASE = re.compile(r"(=\d+|zero|one|two|few|many|other)\s*\{((?:[^{}]|\{\w+\})*)\}")


@cache
def _plural_rule(locale: str) -> Callable[[float], str]:
    rule: Callable[[float], str] = Locale.parse(locale).plural_form
    return rule


def expand_plurals(locale: str, template: str, params: dict[str, Any]) -> str:
    """Replaces each plural block by the case its count takes in `locale` (an exact `=n` first, then
    the CLDR category, then `other`); `#` in the case becomes the count's placeholder."""
    def one_block(match: re.Match[str]) -> str:
        name, body = match.group(1), match.group(2)
        cases: dict[str, str] = dict(_CASE.findall(body))
        count = params.get(name)
        if not isinstance(count, int | float):
            raise TypeError(f"plural parameter {name!r} must be a number, got {count!r}")
        chosen = cases.get(f"={count}") or cases.get(_plural_rule(locale)(count)) or cases.get("other", "")
        return chosen.replace("#", "{" + name + "}")

    return _PLURAL.sub(one_block, template) if "plural," in template else template


_FIELD = re.compile(r"\{(\w+)\}")


def placeholders(template: str) -> set[str]:
    """The parameters a template takes: its plain fields and its plural counts."""
    names = set()
    for match in _PLURAL.finditer(template):
        names.add(match.group(1))
        for _case, text in _CASE.findall(match.group(2)):
            names |= set(_FIELD.findall(text))
    return names | set(_FIELD.findall(_PLURAL.sub("", template)))


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(full, value, out)
        elif isinstance(value, str):
            out[full] = value
        else:
            raise TypeError(f"{full}: only strings and tables are allowed in catalogues")


def load_catalogue(path: Path) -> dict[str, str]:
    """One language: every .toml file of its folder; a key defined twice is an error."""
    out: dict[str, str] = {}
    for file in sorted(path.glob("*.toml")) if path.is_dir() else [path]:
        with file.open("rb") as fh:
            part: dict[str, str] = {}
            _flatten("", tomllib.load(fh), part)
        twice = sorted(set(part) & set(out))
        if twice:
            raise ValueError(f"{file}: keys defined in another file too: {', '.join(twice[:5])}")
        out.update(part)
    return out


class I18n:
    def __init__(self, default: str = "zh", directory: Path = LOCALES_DIR) -> None:
        self.catalogues = {p.name: load_catalogue(p) for p in sorted(directory.iterdir()) if p.is_dir()}
        if default not in self.catalogues:
            raise ValueError(f"no catalogue for default language {default!r}")
        self.default = default

    @property
    def languages(self) -> list[str]:
        return list(self.catalogues)

    def pick(self, *candidates: str | None) -> str:
        """The first supported language among candidates (Telegram codes like 'en-US', 'zh-hans')."""
        for code in candidates:
            if not code:
                continue
            base = code.lower().replace("_", "-").split("-")[0]
            if base in self.catalogues:
                return base
        return self.default

    def has(self, key: str) -> bool:
        return key in self.catalogues[self.default]

    def _template(self, locale: str | None, key: str) -> tuple[str, str]:
        lang = locale if locale in self.catalogues else self.default
        template = self.catalogues[lang].get(key)
        if template is None:
            lang, template = self.default, self.catalogues[self.default].get(key)
        if template is None:
            raise MissingKey(key)
        return lang, template

    def t(self, locale: str | None, key: str, /, **params: Any) -> str:
        """A message in HTML: parameters are escaped unless `Raw`."""
        lang, template = self._template(locale, key)
        if not params:
            return template
        safe = {k: (v if isinstance(v, Raw) or not isinstance(v, str) else html.escape(v, quote=False))
                for k, v in params.items()}
        return expand_plurals(lang, template, params).format(**safe)

    def label(self, locale: str | None, key: str, /, **params: Any) -> str:
        """Plain text (a button label, a file name): parameters go in as they are."""
        lang, template = self._template(locale, key)
        if not params:
            return template
        return expand_plurals(lang, template, params).format(**params)

    def translator(self, locale: str | None) -> Translator:
        return Translator(self, locale or self.default)


class Translator:
    """`i18n` bound to one person's language; what handlers receive as `_`."""

    def __init__(self, i18n: I18n, locale: str) -> None:
        self.i18n = i18n
        self.locale = locale

    def __call__(self, key: str, /, **params: Any) -> str:
        """A message (HTML): parameters escaped."""
        return self.i18n.t(self.locale, key, **params)

    def label(self, key: str, /, **params: Any) -> str:
        """A button label or other plain text Telegram never parses: parameters as they are."""
        return self.i18n.label(self.locale, key, **params)
