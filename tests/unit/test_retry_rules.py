"""The job's rule table reads in order, names real settings, and never answers a lost lease."""

from __future__ import annotations

import pytest

from clinifile.config import Settings
from clinifile.errors import ClinifileError, LeaseLost, OverQuota, PreconditionFailed
from clinifile.worker.processing import RULES
from clinifile.worker.promotion import CopyMismatch, UploadMissing
from clinifile.worker.rules import MAX_BACKOFF_SECONDS, FailOn, RetryOn, Rules, exponential


def test_each_error_finds_its_rule() -> None:
    assert RULES.rule_for(OverQuota("grew")) == FailOn(OverQuota, delete_upload=True)
    missing = RULES.rule_for(UploadMissing("gone"))
    assert isinstance(missing, RetryOn) and missing.attempts == "worker_missing_object_attempts"
    for error in (PreconditionFailed("changed"), CopyMismatch("differs")):
        rule = RULES.rule_for(error)
        assert isinstance(rule, RetryOn) and rule.attempts == "worker_max_attempts"


def test_no_rule_answers_a_lost_lease_or_a_bug() -> None:
    assert RULES.rule_for(LeaseLost("taken")) is None
    assert RULES.rule_for(KeyError("content_type")) is None
    assert RULES.rule_for(LookupError("lease lost")) is None


def test_a_rule_naming_an_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="'worker_max_attempt'"):
        RetryOn(OverQuota, attempts="worker_max_attempt")


def test_a_rule_that_would_catch_a_lost_lease_is_refused() -> None:
    with pytest.raises(ValueError, match="LeaseLost"):
        Rules(RetryOn(ClinifileError, attempts="worker_max_attempts"))


def test_backoff_doubles_with_each_attempt_up_to_its_cap() -> None:
    settings = Settings(worker_backoff_base_seconds=2.0)
    for attempts, full in [(1, 2.0), (2, 4.0), (3, 8.0), (8, 256.0), (9, MAX_BACKOFF_SECONDS)]:
        for _ in range(50):
            assert full / 2 <= exponential(settings, attempts) <= full
