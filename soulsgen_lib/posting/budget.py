"""The posting budget, counted from the history: X's free tier allows 17 posts per 24 hours and ~500 a month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from soulsgen_lib.posting.history import MAY_BE_PUBLISHED, PostRecord
from soulsgen_lib.settings import Settings

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Budget:
    """Posts allowed per rolling 24 hours and per calendar month (UTC)."""

    daily: int = 17
    monthly: int = 500

    @classmethod
    def from_settings(cls, settings: Settings) -> Budget:
        return cls(daily=settings.post_daily_budget, monthly=settings.post_monthly_budget)


@dataclass(frozen=True)
class BudgetStatus:
    """How much of the budget the history has used at a moment."""

    budget: Budget
    used_daily: int
    used_monthly: int
    daily_frees_at: datetime | None  # when the oldest post of the last 24 hours leaves the window

    @property
    def remaining(self) -> int:
        return max(0, min(self.budget.daily - self.used_daily, self.budget.monthly - self.used_monthly))

    @property
    def spent(self) -> bool:
        return self.remaining == 0

    def explain(self) -> str:
        """One line for people: what is used and, when spent, when posting can resume."""
        line = (
            f"{self.used_daily}/{self.budget.daily} posts in the last 24 h, "
            f"{self.used_monthly}/{self.budget.monthly} this month"
        )
        if self.used_monthly >= self.budget.monthly:
            return f"monthly budget spent ({line}); posting resumes next month or with a larger POST_MONTHLY_BUDGET"
        if self.used_daily >= self.budget.daily:
            when = f" at {self.daily_frees_at:%Y-%m-%d %H:%M} UTC" if self.daily_frees_at else ""
            return f"daily budget spent ({line}); the next post is allowed{when}"
        return line

    def to_dict(self) -> dict:
        return {
            "daily_budget": self.budget.daily,
            "monthly_budget": self.budget.monthly,
            "used_daily": self.used_daily,
            "used_monthly": self.used_monthly,
            "remaining": self.remaining,
            "spent": self.spent,
        }


def budget_status(records: list[PostRecord], budget: Budget, now: datetime | None = None) -> BudgetStatus:
    """Count the posts that may be on the account (posted or unknown outcome) against `budget`."""
    now = now or datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    counted = [record.time for record in records if record.outcome in MAY_BE_PUBLISHED]
    last_day = sorted(time for time in counted if now - DAY < time <= now)
    excess = len(last_day) - budget.daily
    # The window frees a slot when enough of its oldest posts have aged out.
    frees_at = last_day[excess] + DAY if 0 <= excess < len(last_day) else None
    return BudgetStatus(
        budget=budget,
        used_daily=len(last_day),
        used_monthly=sum(1 for time in counted if month_start <= time <= now),
        daily_frees_at=frees_at,
    )
