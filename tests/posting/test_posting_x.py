"""Posting library against a local X API that checks OAuth 1.0a signatures: outcomes, retries, budget, history."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures_posting import FAST_RETRY
from posting.loopback_api_server import Planned

from soulsgen_lib.posting import (
    BUDGET_SPENT_EXIT_CODE,
    Budget,
    BudgetSpent,
    CredentialsRejected,
    DuplicateContent,
    OutcomeUnknown,
    PostingError,
    PostingTarget,
    PostRecord,
    RateLimited,
    RetryPolicy,
    Sentence,
    SentenceRejected,
    StoreHistory,
    TargetUnavailable,
    budget_status,
    open_history,
    pick_sentence,
    post_next,
    post_sentence,
    sentence_problem,
)
from soulsgen_lib.posting.card import render_card
from soulsgen_lib.posting.history import DUPLICATE, FAILED, PENDING, POSTED, RATE_LIMITED, UNKNOWN, settled
from soulsgen_lib.posting.x import BaseUrlSession, PinFlow, XTarget
from soulsgen_lib.settings import Settings
from soulsgen_lib.storage import open_store
from soulsgen_lib.storage.layout import POSTING_LOCK_KEY, StorageError

LINE = "The bell tolls twice for the hollow knight of the drowned keep."
OTHER = "Ash gathers where the candle of the old watcher burned out."


class RecordingSleep:
    """Records the waits XTarget asks for instead of sleeping, so retry tests take milliseconds."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def outcomes(history) -> list[str]:
    """The outcome of each attempt (its pending line replaced by the outcome line)."""
    return [record.outcome for record in settled(history.records())]


def make_target(x_api, credentials, sleep=None, **retry) -> XTarget:
    policy = RetryPolicy(**{**FAST_RETRY, **retry})
    return XTarget(
        credentials["consumer_key"],
        credentials["consumer_secret"],
        credentials["access_token"],
        credentials["token_secret"],
        base_url=x_api.base_url,
        retry=policy,
        sleep=sleep or RecordingSleep(),
    )


@pytest.fixture
def target(x_api, x_credentials) -> XTarget:
    return make_target(x_api, x_credentials)


@pytest.fixture
def history(tmp_path) -> StoreHistory:
    return StoreHistory(open_store(tmp_path))


def test_post_creates_the_tweet_and_records_it(x_api, target, history):
    outcome = post_sentence(LINE, target, history, Budget(), model_version="m-7")

    assert outcome.outcome == POSTED
    assert x_api.tweets == [{"id": outcome.post_id, "text": LINE}]
    pending, record = history.records()  # the intent is on record before the request goes out
    assert (pending.outcome, pending.attempt, pending.post_id) == (PENDING, record.attempt, None)
    assert (record.text, record.post_id, record.outcome, record.model_version, record.network) == (
        LINE,
        outcome.post_id,
        POSTED,
        "m-7",
        "x",
    )
    assert budget_status(settled(history.records()), Budget()).used_daily == 1
    assert outcome.to_dict()["post_id"] == outcome.post_id


def test_a_carded_tweet_uploads_the_png_sets_its_alt_text_and_carries_the_media_id(x_api, target, history):
    card = render_card(LINE)

    outcome = post_sentence(LINE, target, history, Budget(), card=card)

    assert outcome.outcome == POSTED
    [(media_id, media)] = x_api.media.items()
    assert (media["png"], media["alt"]) == (card.png, LINE)
    assert x_api.tweets == [{"id": outcome.post_id, "text": LINE, "media_ids": [media_id]}]
    assert [seen for seen in x_api.requests if seen[0] == "POST"] == [
        ("POST", "/1.1/media/upload.json"),
        ("POST", "/1.1/media/metadata/create.json"),
        ("POST", "/2/tweets"),
    ]


@pytest.mark.parametrize(
    ("answers", "error", "uploads"),
    [
        ([Planned(503)] * FAST_RETRY["attempts"], TargetUnavailable, FAST_RETRY["attempts"]),  # retried, then given up
        ([Planned(400)], PostingError, 1),  # refused: not retried
    ],
)
def test_a_failed_upload_posts_nothing_and_records_failed(x_api, target, history, answers, error, uploads):
    x_api.plan_upload(*answers)

    with pytest.raises(error, match="media/upload"):
        post_sentence(LINE, target, history, Budget(), card=render_card(LINE))

    assert x_api.count("POST", "/1.1/media/upload.json") == uploads
    assert x_api.count("POST", "/2/tweets") == 0 and x_api.tweets == []
    assert outcomes(history) == [FAILED]


def test_an_unreachable_upload_host_is_retried_then_a_plain_failure(x_api, target, history):
    x_api.stop()  # connection refused: nothing was sent

    with pytest.raises(TargetUnavailable, match=r"cannot reach .* on POST /1.1/media/upload.json, 3 times"):
        post_sentence(LINE, target, history, Budget(), card=render_card(LINE))

    assert x_api.requests == []
    assert outcomes(history) == [FAILED]


def test_an_upload_signed_with_a_wrong_secret_is_refused(x_api, x_credentials, history):
    target = make_target(x_api, {**x_credentials, "token_secret": "not-the-secret"})

    with pytest.raises(CredentialsRejected, match="401"):
        post_sentence(LINE, target, history, Budget(), card=render_card(LINE))

    assert x_api.media == {} and x_api.count("POST", "/2/tweets") == 0
    assert outcomes(history) == [FAILED]


def test_a_tweet_may_carry_only_media_the_account_uploaded(x_api, x_credentials):
    import tweepy

    client = tweepy.Client(
        consumer_key=x_credentials["consumer_key"],
        consumer_secret=x_credentials["consumer_secret"],
        access_token=x_credentials["access_token"],
        access_token_secret=x_credentials["token_secret"],
    )
    client.session = BaseUrlSession(x_api.base_url, (5.0, 5.0))

    with pytest.raises(tweepy.BadRequest, match="not media this account uploaded"):
        client.create_tweet(text=LINE, media_ids=["1900000000000000000"], user_auth=True)

    assert x_api.tweets == []


def test_whoami_names_the_account(target):
    assert target.whoami() == "soulsgen_bot"


@pytest.mark.parametrize("wrong", ["consumer_secret", "token_secret", "access_token"])
def test_wrong_credentials_stop_at_401_with_what_to_check(x_api, x_credentials, history, wrong):
    bad = {**x_credentials, wrong: x_credentials[wrong][::-1]}
    target = make_target(x_api, bad)

    with pytest.raises(CredentialsRejected, match="401") as caught:
        post_sentence(LINE, target, history, Budget())

    assert "TWITTER_CONSUMER_SECRET" in str(caught.value)
    assert x_api.count("POST", "/2/tweets") == 1  # not retried
    assert x_api.tweets == []
    assert outcomes(history) == [FAILED]
    assert all(value not in str(caught.value) for value in {**x_credentials, **bad}.values())


def test_rate_limit_with_a_near_reset_is_waited_out(x_api, x_credentials, history):
    sleep = RecordingSleep()
    target = make_target(x_api, x_credentials, sleep=sleep, rate_limit_max_wait_s=30)
    reset = int(time.time()) + 5
    x_api.plan(Planned(429, {"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"}))

    outcome = post_sentence(LINE, target, history, Budget())

    assert outcome.outcome == POSTED
    assert x_api.count("POST", "/2/tweets") == 2
    [wait] = sleep.waits
    assert 3 <= wait <= 7  # until the reset (plus a second), not a fixed backoff


def test_rate_limit_with_a_far_reset_gives_up_at_once(x_api, x_credentials, history):
    sleep = RecordingSleep()
    target = make_target(x_api, x_credentials, sleep=sleep, rate_limit_max_wait_s=30)
    x_api.plan(Planned(429, {"x-rate-limit-reset": str(int(time.time()) + 3600)}))

    with pytest.raises(RateLimited, match="later than the 30 s"):
        post_sentence(LINE, target, history, Budget())

    assert sleep.waits == []
    assert x_api.count("POST", "/2/tweets") == 1
    assert outcomes(history) == [RATE_LIMITED]
    # The reset time holds X back until then; a rate-limited text was not posted, so it may be tried after it.
    with pytest.raises(BudgetSpent, match="rate limited by x until"):
        post_sentence(LINE, target, history, Budget())
    later = datetime.now(UTC) + timedelta(hours=2)
    assert post_sentence(LINE, target, history, Budget(), now=later).outcome == POSTED


def test_rate_limit_that_keeps_coming_back_gives_up_after_the_attempts(x_api, x_credentials, history):
    sleep = RecordingSleep()
    target = make_target(x_api, x_credentials, sleep=sleep, attempts=3)
    soon = {"x-rate-limit-reset": str(int(time.time()) + 2)}
    x_api.plan(Planned(429, soon), Planned(429, soon), Planned(429, soon))

    with pytest.raises(RateLimited, match="on each of 3 tries"):
        post_sentence(LINE, target, history, Budget())

    assert len(sleep.waits) == 2
    assert x_api.count("POST", "/2/tweets") == 3


def test_server_error_after_sending_is_unknown_and_not_retried(x_api, x_credentials, history):
    sleep = RecordingSleep()
    target = make_target(x_api, x_credentials, sleep=sleep, attempts=4)
    x_api.plan(Planned(503, also_create=True))  # X created the tweet, then failed to answer

    with pytest.raises(OutcomeUnknown, match=r"503.*recorded as unknown"):
        post_sentence(LINE, target, history, Budget())

    assert x_api.count("POST", "/2/tweets") == 1 and sleep.waits == []  # never retried: it could post twice
    assert outcomes(history) == [UNKNOWN]
    with pytest.raises(SentenceRejected, match="already posted"):
        post_sentence(LINE, target, history, Budget())
    assert budget_status(settled(history.records()), Budget()).used_daily == 1


def test_server_error_on_a_read_is_retried_with_growing_backoff(x_api, x_credentials):
    sleep = RecordingSleep()
    target = make_target(x_api, x_credentials, sleep=sleep, attempts=4, backoff_s=0.1, backoff_max_s=10)
    x_api.plan_me(Planned(503), Planned(503))

    assert target.whoami() == "soulsgen_bot"
    assert len(sleep.waits) == 2
    assert 0.05 <= sleep.waits[0] <= 0.1 and 0.1 <= sleep.waits[1] <= 0.2  # doubling ceiling, jittered


def test_unreachable_server_is_retried_and_recorded_as_failed(x_api, x_credentials, history):
    target = make_target(x_api, x_credentials, attempts=2)
    x_api.stop()  # nothing listens on the port any more: the connection is refused, nothing was sent

    with pytest.raises(TargetUnavailable, match="cannot reach"):
        post_sentence(LINE, target, history, Budget())

    assert outcomes(history) == [FAILED]


def test_duplicate_content_403_is_recorded_and_blocks_the_text(x_api, target, history):
    x_api.create_tweet(LINE)  # already on the account, but not in our history

    with pytest.raises(DuplicateContent, match="duplicate content"):
        post_sentence(LINE, target, history, Budget())

    assert outcomes(history) == [DUPLICATE]
    with pytest.raises(SentenceRejected, match="already posted"):
        post_sentence(LINE, target, history, Budget())
    assert x_api.count("POST", "/2/tweets") == 1


def test_other_403_points_at_app_permissions(x_api, target, history):
    x_api.plan(Planned(403))

    with pytest.raises(CredentialsRejected, match="Read and Write permission"):
        post_sentence(LINE, target, history, Budget())


def test_timeout_after_sending_is_recorded_unknown_and_never_resent(x_api, x_credentials, history):
    target = make_target(x_api, x_credentials, read_timeout_s=0.3)
    x_api.plan(Planned(delay_s=1.0))  # the tweet is created, the answer comes too late

    with pytest.raises(OutcomeUnknown, match="recorded as unknown"):
        post_sentence(LINE, target, history, Budget())

    assert x_api.count("POST", "/2/tweets") == 1
    assert [tweet["text"] for tweet in x_api.tweets] == [LINE]
    [record] = settled(history.records())
    assert record.outcome == UNKNOWN
    with pytest.raises(SentenceRejected, match="already posted"):
        post_sentence(LINE, target, history, Budget())
    assert budget_status(settled(history.records()), Budget()).used_daily == 1  # an unknown post may have used budget
    assert x_api.count("POST", "/2/tweets") == 1


def test_a_killed_poster_leaves_a_pending_line_that_counts_and_blocks(x_api, target, history):
    class DiesWhileSending:
        name = "x"

        def post(self, text, attempt, card=None):
            raise KeyboardInterrupt  # the process is stopped while X is answering

    with pytest.raises(KeyboardInterrupt):
        post_sentence(LINE, DiesWhileSending(), history, Budget())

    assert outcomes(history) == [PENDING]
    with pytest.raises(SentenceRejected, match="already posted"):
        post_sentence(LINE, target, history, Budget())
    assert budget_status(settled(history.records()), Budget(daily=1)).spent
    assert x_api.count("POST", "/2/tweets") == 0


def test_same_text_twice_is_refused_before_sending(x_api, target, history):
    post_sentence(LINE, target, history, Budget())

    with pytest.raises(SentenceRejected) as caught:
        post_sentence("  " + LINE.upper() + " ", target, history, Budget())

    assert caught.value.reason == "posted_before"
    assert x_api.count("POST", "/2/tweets") == 1


def test_spent_budget_sends_nothing(x_api, target, history):
    now = datetime.now(UTC)
    for hour in range(3):
        old = PostRecord(now - timedelta(hours=hour + 1), "x", f"Old line number {hour} of the tower.", POSTED)
        history.append(old)

    with pytest.raises(BudgetSpent, match="daily budget spent") as caught:
        post_sentence(LINE, target, history, Budget(daily=3))

    assert caught.value.exit_code == BUDGET_SPENT_EXIT_CODE
    assert x_api.requests == []


def test_spent_budget_asks_no_sentence(x_api, target, history):
    history.append(PostRecord(datetime.now(UTC), "x", OTHER, POSTED))
    asked: list[int] = []

    def source() -> Sentence:
        asked.append(1)
        return Sentence(LINE)

    with pytest.raises(BudgetSpent, match="monthly budget spent"):
        post_next(source, target, history, Budget(daily=5, monthly=1))

    assert asked == [] and x_api.requests == []


def test_dry_run_sends_and_records_nothing(x_api, target, history):
    outcome = post_sentence(LINE, target, history, Budget(), dry_run=True)

    assert outcome.outcome == "dry_run" and outcome.text == LINE
    assert x_api.requests == []
    assert history.records() == []


def test_budget_counts_a_rolling_day_and_the_calendar_month():
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    records = [
        PostRecord(now - timedelta(hours=2), "x", "a", POSTED),
        PostRecord(now - timedelta(hours=20), "x", "b", UNKNOWN),
        PostRecord(now - timedelta(hours=30), "x", "c", POSTED),  # yesterday, same month
        PostRecord(now - timedelta(days=3), "x", "d", POSTED),  # last month
        PostRecord(now - timedelta(hours=1), "x", "e", FAILED),  # never published: not counted
    ]

    status = budget_status(records, Budget(daily=2, monthly=10), now)

    assert (status.used_daily, status.used_monthly, status.remaining, status.spent) == (2, 3, 0, True)
    assert status.daily_frees_at == now + timedelta(hours=4)  # when the 20-hour-old post leaves the window
    assert budget_status(records, Budget(daily=5, monthly=3), now).explain().count("monthly budget spent")
    assert budget_status(records, Budget(daily=5, monthly=10), now).remaining == 3


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("   ", "empty"),
        ("戦" * 141 + "。", "too_long"),  # 142 characters but weighs 284 as X counts CJK
        ("Too short.", "too_few_words"),
        ("The king's road leads nowhere", "no_sentence_end"),
        ("The <unk> knight rises again at dawn.", "bad_characters"),
    ],
)
def test_sentence_checks(text, reason):
    problem = sentence_problem(text, [])
    assert problem is not None and problem.reason == reason


def test_failing_sentences_are_replaced_a_bounded_number_of_times():
    answers = iter(["no end here at all", "Too short.", LINE])
    asked: list[str] = []

    def source() -> Sentence:
        asked.append(next(answers))
        return Sentence(asked[-1], "m-1")

    assert pick_sentence(source, [], max_asks=5) == Sentence(LINE, "m-1")
    assert len(asked) == 3

    calls: list[int] = []

    def always_bad() -> Sentence:
        calls.append(1)
        return Sentence("Too short.")

    with pytest.raises(SentenceRejected, match="no acceptable sentence in 4 tries"):
        pick_sentence(always_bad, [], max_asks=4)
    assert len(calls) == 4


def test_damaged_history_line_is_an_error_naming_the_line(history):
    history.append(PostRecord(datetime.now(UTC), "x", OTHER, POSTED, "1"))
    with Path(history.location).open("a") as handle:
        handle.write("{not json\n")

    with pytest.raises(PostingError, match=r"history\.jsonl:2"):
        history.records()


def test_history_in_a_bucket_when_bucket_is_set(gcs_bucket, x_api, target, tmp_path):
    settings = Settings.load(env_file=None, environ={}, bucket=gcs_bucket, home=tmp_path)
    history = open_history(settings)
    assert isinstance(history, StoreHistory)
    assert history.location == f"{gcs_bucket}/posted/history.jsonl"

    post_sentence(LINE, target, history, Budget())
    post_sentence(OTHER, target, open_history(settings), Budget())

    assert [record.text for record in settled(open_history(settings).records())] == [LINE, OTHER]
    assert not (tmp_path / "posted").exists()


def test_pin_flow_issues_a_working_token_pair(x_api, x_credentials):
    flow = PinFlow(x_credentials["consumer_key"], x_credentials["consumer_secret"], x_api.base_url)
    url = flow.authorization_url()
    assert url.startswith(f"{x_api.base_url}/oauth/authorize?oauth_token=")

    token, secret = flow.access_token(x_api.pin)

    assert (token, secret) == x_api.issued[-1]
    fresh = {**x_credentials, "access_token": token, "token_secret": secret}
    assert make_target(x_api, fresh).whoami() == "soulsgen_bot"


def test_pin_flow_with_a_wrong_consumer_secret_names_the_settings(x_api, x_credentials):
    flow = PinFlow(x_credentials["consumer_key"], "not-the-secret", x_api.base_url)
    with pytest.raises(PostingError, match=r"request token \(401\).*TWITTER_CONSUMER_SECRET"):
        flow.authorization_url()


def test_no_secret_reaches_logs_errors_or_output(x_api, x_credentials, history, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    target = make_target(x_api, x_credentials)
    x_api.plan(Planned(429, {"x-rate-limit-reset": str(int(time.time()) + 2)}))
    post_sentence(LINE, target, history, Budget(), card=render_card(LINE))
    x_api.plan(Planned(503))
    with pytest.raises(OutcomeUnknown):
        post_sentence(OTHER, target, history, Budget())
    x_api.plan_upload(Planned(400))
    with pytest.raises(PostingError):
        post_sentence(OTHER, target, history, Budget(), card=render_card(OTHER))
    flow = PinFlow(x_credentials["consumer_key"], x_credentials["consumer_secret"], x_api.base_url)
    flow.authorization_url()
    issued = flow.access_token(x_api.pin)
    errors = []
    for wrong in ("consumer_secret", "token_secret"):
        with pytest.raises(PostingError) as caught:
            make_target(x_api, {**x_credentials, wrong: "wrong"}).post(OTHER, "attempt-1")
        errors.append(str(caught.value))

    secrets = [*x_credentials.values(), *issued]
    captured = capsys.readouterr()
    seen = "\n".join(
        [caplog.text, captured.out, captured.err, *errors, repr(target), Path(history.location).read_text()]
    )
    assert "Making API request" in caplog.text  # debug logging really was on
    assert [secret for secret in secrets if secret in seen] == []


class ListTarget:
    """Another network in a few lines: what the PostingTarget interface asks of an implementation."""

    name = "list"

    def __init__(self) -> None:
        self.posts: list[str] = []

    def post(self, text: str, attempt: str, card=None) -> str:
        self.posts.append(text)
        return f"list-{len(self.posts)}"

    def whoami(self) -> str:
        return "reader"


def test_any_posting_target_shares_checks_budget_and_history(history):
    other: PostingTarget = ListTarget()

    outcome = post_sentence(LINE, other, history, Budget(daily=1))

    assert (outcome.post_id, outcome.network, other.posts) == ("list-1", "list", [LINE])
    assert history.records()[0].network == "list"
    with pytest.raises(BudgetSpent):
        post_sentence(OTHER, other, history, Budget(daily=1))


class BrokenTarget(ListTarget):
    """A target whose answer cannot be read, after the post may have been made."""

    def post(self, text: str, attempt: str, card=None) -> str:
        super().post(text, attempt)
        raise KeyError("id")


def test_an_unforeseen_failure_is_recorded_unknown(history):
    with pytest.raises(OutcomeUnknown, match="KeyError"):
        post_sentence(LINE, BrokenTarget(), history, Budget())

    assert outcomes(history) == [UNKNOWN]


class GatedTarget(ListTarget):
    """A target that holds each post until the test lets it through."""

    def __init__(self) -> None:
        super().__init__()
        self.inside, self.go_on = threading.Event(), threading.Event()

    def post(self, text: str, attempt: str, card=None) -> str:
        self.inside.set()
        assert self.go_on.wait(20)
        return super().post(text, attempt)


@pytest.mark.parametrize("where", ["local", "bucket"])
def test_two_posters_at_once_post_a_text_once(where, request, tmp_path):
    store = open_store(tmp_path if where == "local" else request.getfixturevalue("gcs_bucket"))
    target = GatedTarget()
    results: dict[str, object] = {}

    def poster(name: str) -> None:
        try:
            results[name] = post_sentence(LINE, target, StoreHistory(store), Budget())
        except SentenceRejected as error:
            results[name] = error

    first = threading.Thread(target=poster, args=("first",))
    first.start()
    assert target.inside.wait(20)  # the first poster passed its checks and is sending
    second = threading.Thread(target=poster, args=("second",))
    second.start()
    second.join(1.0)
    assert second.is_alive()  # it waits for the first poster instead of checking a stale history
    target.go_on.set()
    first.join(20)
    second.join(20)

    assert target.posts == [LINE]
    assert results["first"].outcome == POSTED
    assert results["second"].reason == "posted_before"
    assert [record.outcome for record in settled(StoreHistory(store).records())] == [POSTED]


def test_a_held_posting_lock_times_out_naming_its_holder(gcs_bucket, tmp_path):
    local = open_store(tmp_path)
    held = pytest.raises(StorageError, match=r"\.posting\.lock is held by another")
    with local.lock(POSTING_LOCK_KEY), held, local.lock(POSTING_LOCK_KEY, wait_s=0.3):
        pass
    with local.lock(POSTING_LOCK_KEY, wait_s=0.3):  # released when the holder's block ended
        pass

    bucket = open_store(gcs_bucket)
    bucket.write_text(POSTING_LOCK_KEY, json.dumps({"holder": "vm-1:42", "token": "theirs"}))
    held = pytest.raises(StorageError, match=r"posted/\.posting\.lock is held by vm-1:42 for \d+ s")
    with held, bucket.lock(POSTING_LOCK_KEY, wait_s=0.5):
        pass


def test_a_bucket_lock_left_by_a_dead_holder_is_taken_over(gcs_emulator, gcs_bucket):
    bucket = open_store(gcs_bucket)
    bucket.write_text(POSTING_LOCK_KEY, json.dumps({"holder": "vm-1:42", "token": "theirs"}))
    time.sleep(1.2)  # its age comes from the bucket's creation time, not the holder's clock
    with bucket.lock(POSTING_LOCK_KEY, wait_s=0.5, stale_s=1.0):
        assert "vm-1:42" not in bucket.read_text(POSTING_LOCK_KEY)
    assert not bucket.exists(POSTING_LOCK_KEY)  # released by deleting it

    # The emulator ignores preconditions, so this shows they are sent: create only if absent, and
    # delete (the dead holder's lock, then ours) only at the generation that was read.
    requests = [line for line in gcs_emulator.log.read_text().splitlines() if gcs_bucket[5:] in line]
    assert any("uploadType=multipart&ifGenerationMatch=0" in line for line in requests)
    deletes = [line for line in requests if line.startswith('"DELETE') and ".posting.lock" in line]
    assert len(deletes) == 2 and all("ifGenerationMatch=" in line for line in deletes)


def test_a_lock_that_cannot_be_released_does_not_hide_the_error_leaving_the_block(gcs_bucket, monkeypatch, caplog):
    from google.api_core.exceptions import ServiceUnavailable
    from google.cloud.storage import Blob

    def unavailable(*args, **kwargs):
        raise ServiceUnavailable("the bucket is down")

    bucket = open_store(gcs_bucket)
    with pytest.raises(ValueError, match="the post failed"), bucket.lock(POSTING_LOCK_KEY):
        monkeypatch.setattr(Blob, "delete", unavailable)  # the storage service fails from here on
        raise ValueError("the post failed")
    assert "could not release posted/.posting.lock" in caplog.text and "the bucket is down" in caplog.text
