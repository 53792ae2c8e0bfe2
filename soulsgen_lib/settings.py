"""One settings object, read from the environment and a `.env` file.

Precedence, highest first: values passed explicitly (CLI options), process environment,
the `.env` file, defaults. Secrets are wrapped in `Secret` so that printing or logging a
settings object never shows them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from soulsgen_lib.atomic import atomic_path
from soulsgen_lib.errors import SoulsgenError


class SettingsError(SoulsgenError):
    """A setting or the `.env` file is invalid."""


class Secret:
    """A string that never shows itself in `str`, `repr` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__


def _setting(env: str, default: Any, help: str, secret: bool = False) -> Any:
    return field(default=default, metadata={"env": env, "help": help, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """Everything SoulsGen reads from its environment."""

    home: Path = _setting(
        "SOULSGEN_HOME", Path("artifacts"), "Local artifact root (corpus, models, model store, logs)."
    )
    datasource_dir: Path | None = _setting(
        "DATASOURCE_DIR", None, "Folder of game text (FMG XML, .fmg, .msgbnd(.dcx)) to build the corpus from."
    )
    bucket: str = _setting("BUCKET", "", "Artifact bucket, e.g. gs://my-soulsgen; empty keeps artifacts local.")
    container_reg: str = _setting(
        "CONTAINER_REG", "", "Container registry holding the soulsgen-trainer image, e.g. europe-docker.pkg.dev/p/r."
    )
    gcp_project: str = _setting("GCP_PROJECT", "", "Google Cloud project for the gce training backend.")
    compute_api_url: str = _setting(
        "COMPUTE_API_URL", "", "Compute Engine API base URL; empty uses Google's (a proxy or test server may stand in)."
    )
    torchserve_endpoint: str = _setting(
        "TORCHSERVE_ENDPOINT", "", "TorchServe inference URL, e.g. http://127.0.0.1:8080."
    )
    torchserve_token: Secret = _setting(
        "TORCHSERVE_TOKEN", Secret(""), "TorchServe inference token (token auth).", secret=True
    )
    twitter_consumer_key: Secret = _setting("TWITTER_CONSUMER_KEY", Secret(""), "X app API key.", secret=True)
    twitter_consumer_secret: Secret = _setting(
        "TWITTER_CONSUMER_SECRET", Secret(""), "X app API key secret.", secret=True
    )
    twitter_access_token: Secret = _setting(
        "TWITTER_ACCESS_TOKEN", Secret(""), "X access token of the posting account.", secret=True
    )
    twitter_token_secret: Secret = _setting(
        "TWITTER_TOKEN_SECRET", Secret(""), "X access token secret of the posting account.", secret=True
    )
    twitter_api_base_url: str = _setting(
        "TWITTER_API_BASE_URL", "https://api.twitter.com", "X API base URL (a proxy or test server may stand in)."
    )
    post_daily_budget: int = _setting("POST_DAILY_BUDGET", 17, "X posts allowed per rolling 24 hours (free tier).")
    post_monthly_budget: int = _setting("POST_MONTHLY_BUDGET", 500, "X posts allowed per calendar month (free tier).")
    bluesky_handle: str = _setting("BLUESKY_HANDLE", "", "Bluesky handle of the posting account, e.g. bot.bsky.social.")
    bluesky_app_password: Secret = _setting(
        "BLUESKY_APP_PASSWORD", Secret(""), "Bluesky app password (Settings > App passwords).", secret=True
    )
    bluesky_pds_url: str = _setting("BLUESKY_PDS_URL", "https://bsky.social", "Bluesky PDS (server) URL.")
    bluesky_daily_budget: int = _setting("BLUESKY_DAILY_BUDGET", 24, "Bluesky posts allowed per rolling 24 hours.")
    mastodon_api_base_url: str = _setting(
        "MASTODON_API_BASE_URL", "", "Mastodon instance URL of the posting account, e.g. https://botsin.space."
    )
    mastodon_access_token: Secret = _setting(
        "MASTODON_ACCESS_TOKEN", Secret(""), "Mastodon access token (write:statuses, write:media).", secret=True
    )
    mastodon_visibility: str = _setting(
        "MASTODON_VISIBILITY", "unlisted", "Mastodon post visibility: public, unlisted, private or direct."
    )
    mastodon_daily_budget: int = _setting("MASTODON_DAILY_BUDGET", 24, "Mastodon posts allowed per rolling 24 hours.")
    post_networks: str = _setting(
        "POST_NETWORKS", "x,bluesky,mastodon", "Networks the hourly DAG posts to (comma-separated)."
    )
    post_cards: str = _setting(
        "POST_CARDS",
        "",
        "Networks whose posts carry an image card with alt text (comma-separated: x,bluesky,mastodon).",
    )

    @classmethod
    def load(
        cls,
        env_file: str | Path | None = ".env",
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Build settings from defaults < `.env` < environment < explicit overrides (None is ignored)."""
        environ = os.environ if environ is None else environ
        file_values = read_env_file(Path(env_file)) if env_file else {}
        values: dict[str, Any] = {}
        for f in fields(cls):
            env_name = f.metadata["env"]
            if overrides.get(f.name) is not None:
                raw: Any = overrides[f.name]
            elif env_name in environ:
                raw = environ[env_name]
            elif env_name in file_values:
                raw = file_values[env_name]
            else:
                continue
            values[f.name] = _convert(f, raw)
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    # Folders under `home`. The CLI's working folders live under `work/`, apart from the artifact
    # store's own layout (corpus/<version>, models/soulsgen/<version>, ...), which they must never replace.
    @property
    def work_corpus_dir(self) -> Path:
        return self.home / "work" / "corpus"

    @property
    def work_model_dir(self) -> Path:
        return self.home / "work" / "model"

    @property
    def model_store_dir(self) -> Path:
        """TorchServe's model store; the local artifact store publishes MARs into the same folder."""
        return self.home / "model-store"

    @property
    def serve_dir(self) -> Path:
        return self.home / "serve"

    @property
    def bluesky_session_file(self) -> Path:
        """The saved Bluesky session (tokens: private, like `.env`), reused instead of logging in each hour."""
        return self.home / "private" / "bluesky-session"

    def describe(self) -> list[tuple[str, str, str]]:
        """(env var, shown value, help) for each setting; secrets are masked."""
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = "" if value is None else str(value)
            if f.metadata["secret"]:
                shown = "(set, hidden)" if value else "(not set)"
            rows.append((f.metadata["env"], shown, f.metadata["help"]))
        return rows


def env_var_of(setting_name: str) -> str:
    """The environment variable behind a Settings field, for `--help` texts."""
    return Settings.__dataclass_fields__[setting_name].metadata["env"]


def _convert(f: dataclasses.Field, raw: Any) -> Any:
    if isinstance(raw, (Path, Secret)) or not isinstance(raw, str):
        return raw if not f.metadata["secret"] or isinstance(raw, Secret) else Secret(str(raw))
    if f.metadata["secret"]:
        return Secret(raw)
    if f.type in ("Path", "Path | None"):
        return Path(raw).expanduser() if raw else None
    if f.type == "int":
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{f.metadata['env']} must be a whole number, got {raw!r}") from None
    return raw


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a dotenv file: KEY=VALUE lines, `export` prefixes, quotes, and # comments."""
    if not path.is_file():
        return {}
    values = {}
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def update_env_file(path: Path, updates: Mapping[str, str]) -> None:
    """Set keys in a dotenv file, keeping every other line; written atomically, through a symlink to its target.

    Every line of a key present twice is updated, so the reader (the last line wins) sees the new value.
    """
    path = Path(os.path.realpath(path))  # replace the link's target, never the link itself
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    pending = dict(updates)
    for i, line in enumerate(lines):
        key = line.strip().removeprefix("export ").partition("=")[0].strip()
        if key in updates:
            lines[i] = f"{key}={updates[key]}"
            pending.pop(key, None)
    lines += [f"{key}={value}" for key, value in pending.items()]
    try:
        with atomic_path(path, mode=0o600) as tmp:  # private from the first byte: it holds tokens
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as error:
        raise SettingsError(f"{path}: cannot write ({error.strerror or error})") from None
