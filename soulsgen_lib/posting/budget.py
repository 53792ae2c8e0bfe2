"""Each network's posting budget, counted from its history records.

X's free tier allows 17 posts per 24 hours and 500 a month. Bluesky (createRecord costs 3 of 5,000
points an hour) and Mastodon (300 statuses per 3 hours) allow far more than an hourly bot needs,
so their budget is one post an hour; a 429's reset time holds a network back until then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from soulsgen_lib.posting.history import MAY_BE_PUBLISHED, RATE_LIMITED, PostRecord
from soulsgen_lib.settings import Settings

DAY = timedelta(hours=24)
# The setting that raises each network's daily and monthly budget, for the messages.
DAILY_SETTING = {"x": "POST_DAILY_BUDGET", "bluesky": "BLUESKY_DAILY_BUDGET", "mastodon": "MASTODON_DAILY_BUDGET"}
MONTHLY_SETTING = {"x": "POST_MONTHLY_BUDGET"}


@dataclass(frozen=True)
class Budget:
    """Posts allowed on one network per rolling 24 hours and per calendar month (UTC; None: no monthly cap)."""

    network: str = "x"
    daily: int = 17
    monthly: int | None = 500

    @classmethod
    def from_settings(cls, settings: Settings, network: str = "x") -> Budget:
        if network == "x":
            return cls("x", settings.post_daily_budget, settings.post_monthly_budget)
        if network == "bluesky":
            return cls("bluesky", settings.bluesky_daily_budget, None)
        if network == "mastodon":
            return cls("mastodon", settings.mastodon_daily_budget, None)
        raise ValueError(f"unknown network {network!r}")


@dataclass(frozen=True)
class BudgetStatus:
    """How much of one network's budget its history has used at a moment."""

    budget: Budget
    used_daily: int
    used_monthly: int
    daily_frees_at: datetime | None  # when the oldest post of the last 24 hours leaves the window
    rate_limited_until: datetime | None = None  # the reset time of a 429 still in force

    @property
    def remaining(self) -> int:
        if self.rate_limited_until is not None:
            return 0
        monthly_left = self.budget.daily if self.budget.monthly is None else self.budget.monthly - self.used_monthly
        return max(0, min(self.budget.daily - self.used_daily, monthly_left))

    @property
    def spent(self) -> bool:
        return self.remaining == 0

    def explain(self) -> str:
        """One line for people: what is used and, when spent, when posting can resume."""
        network = self.budget.network
        line = f"{network}: {self.used_daily}/{self.budget.daily} posts in the last 24 h"
        if self.budget.monthly is not None:
            line += f", {self.used_monthly}/{self.budget.monthly} this month"
        if self.rate_limited_until is not None:
            return f"{line}; rate limited by {network} until {self.rate_limited_until:%Y-%m-%d %H:%M:%S} UTC"
        if self.budget.monthly is not None and self.used_monthly >= self.budget.monthly:
            setting = MONTHLY_SETTING.get(network, "the monthly budget")
            return f"{line}; monthly budget spent, posting resumes next month or with a larger {setting}"
        if self.used_daily >= self.budget.daily:
            when = f" at {self.daily_frees_at:%Y-%m-%d %H:%M} UTC" if self.daily_frees_at else ""
            setting = DAILY_SETTING.get(network, "the daily budget")
            return f"{line}; daily budget spent ({setting}), the next post is allowed{when}"
        return line

    def to_dict(self) -> dict:
        return {
            "network": self.budget.network,
            "daily_budget": self.budget.daily,
            "monthly_budget": self.budget.monthly,
            "used_daily": self.used_daily,
            "used_monthly": self.used_monthly,
            "remaining": self.remaining,
            "spent": self.spent,
            "explain": self.explain(),
        }


def budget_status(records: list[PostRecord], budget: Budget, now: datetime | None = None) -> BudgetStatus:
    """Count the posts that may be on the account (pending, posted or unknown) against `budget`.

    `records` are the settled records of the budget's network (`history.on_network`).
    """
    now = now or datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    counted = [record.time for record in records if record.outcome in MAY_BE_PUBLISHED]
    last_day = sorted(time for time in counted if now - DAY < time <= now)
    excess = len(last_day) - budget.daily
    # The window frees a slot when enough of its oldest posts have aged out.
    frees_at = last_day[excess] + DAY if 0 <= excess < len(last_day) else None
    resets = [r.retry_at for r in records if r.outcome == RATE_LIMITED and r.retry_at is not None and r.retry_at > now]
    return BudgetStatus(
        budget=budget,
        used_daily=len(last_day),
        used_monthly=sum(1 for time in counted if month_start <= time <= now),
        daily_frees_at=frees_at,
        rate_limited_until=max(resets, default=None),
    )
