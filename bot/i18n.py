"""Message catalogues: locales/<lang>/*.toml (one file per area, merged), one mechanism for
handlers, scheduler and outbox.

Keys are dotted paths into the TOML tables. Values use str.format placeholders; every
parameter is HTML-escaped unless wrapped in `Raw` (messages are sent with parse_mode HTML).
"""
from __future__ import annotations

import html
import tomllib
from pathlib import Path
from typing import Any

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"


class Raw(str):
    """A parameter that is already safe HTML (e.g. another rendered message)."""


class MissingKey(KeyError):
    pass


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

    def t(self, locale: str | None, key: str, /, **params: Any) -> str:
        catalogue = self.catalogues.get(locale or self.default, self.catalogues[self.default])
        template = catalogue.get(key)
        if template is None:
            template = self.catalogues[self.default].get(key)
        if template is None:
            raise MissingKey(key)
        if not params:
            return template
        safe = {k: (v if isinstance(v, Raw) or not isinstance(v, str) else html.escape(v, quote=False))
                for k, v in params.items()}
        return template.format(**safe)

    def translator(self, locale: str | None) -> Translator:
        return Translator(self, locale or self.default)


class Translator:
    """`i18n` bound to one person's language; what handlers receive as `_`."""

    def __init__(self, i18n: I18n, locale: str) -> None:
        self.i18n = i18n
        self.locale = locale

    def __call__(self, key: str, /, **params: Any) -> str:
        return self.i18n.t(self.locale, key, **params)
