"""The networks SoulsGen posts to, and how each one's target is built from settings."""

from __future__ import annotations

from soulsgen_lib.posting.target import PostingError, PostingTarget, RetryPolicy
from soulsgen_lib.settings import Settings

NETWORKS = ("x", "bluesky", "mastodon")
# Networks that take an image with alt text (every one SoulsGen posts to).
CARD_NETWORKS = frozenset({"x", "bluesky", "mastodon"})


def parse_networks(value: str, setting: str = "--to") -> tuple[str, ...]:
    """Network names from a comma-separated list, in the given order, each once."""
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in NETWORKS]
    if unknown or not names:
        raise PostingError(f"{setting}: expected a comma-separated list of {', '.join(NETWORKS)}, got {value!r}")
    return tuple(dict.fromkeys(names))


def has_credentials(network: str, settings: Settings) -> bool:
    """Whether the environment or `.env` holds this network's credentials."""
    if network == "x":
        return all(
            (
                settings.twitter_consumer_key,
                settings.twitter_consumer_secret,
                settings.twitter_access_token,
                settings.twitter_token_secret,
            )
        )
    if network == "bluesky":
        return bool(settings.bluesky_handle and settings.bluesky_app_password)
    if network == "mastodon":
        return bool(settings.mastodon_api_base_url and settings.mastodon_access_token)
    raise PostingError(f"unknown network {network!r}")


def target_from_settings(network: str, settings: Settings, retry: RetryPolicy | None = None) -> PostingTarget:
    """The network's target from its settings (SDKs are imported here, not at start-up)."""
    if network == "x":
        from soulsgen_lib.posting.x import XTarget

        return XTarget.from_settings(settings, retry)
    if network == "bluesky":
        from soulsgen_lib.posting.bluesky import BlueskyTarget

        return BlueskyTarget.from_settings(settings, retry)
    if network == "mastodon":
        from soulsgen_lib.posting.mastodon import MastodonTarget

        return MastodonTarget.from_settings(settings, retry)
    raise PostingError(f"unknown network {network!r}")
