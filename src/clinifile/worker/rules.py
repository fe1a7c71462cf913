"""What a job does when a step raises, as data: each rule names an error class and the
answer, as Rails jobs declare `retry_on` and `discard_on`.

    RetryOn(error, attempts="<setting>", backoff=...)   retry after backoff until the job has
                                                        been attempted that setting's number
                                                        of times, then fail it
    FailOn(error, delete_upload=...)                    fail it at once
    QuarantineOn(error)                                 keep the file aside, not served, for
                                                        an operator (error: a Rejected)

`Rules` matches them in order, so a narrower class goes before its parent. An error no rule
names is not the job's to answer: it propagates (see worker.processing). An answer that
itself fails with an error the table names (the store fails while quarantining) is
answered by that error's rule.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from clinifile import metrics
from clinifile.config import Settings
from clinifile.errors import LeaseLost
from clinifile.runtime import Runtime
from clinifile.worker import steps
from clinifile.worker.judging import Rejected
from clinifile.worker.steps import Job

MAX_BACKOFF_SECONDS = 300.0

# seconds to wait before the next attempt, given the settings and the attempts made so far
Backoff = Callable[[Settings, int], float]


def exponential(settings: Settings, attempts: int) -> float:
    """worker_backoff_base_seconds doubled for each attempt after the first, at most
    MAX_BACKOFF_SECONDS, times a random 0.5 to 1 so that jobs failed together spread out."""
    base = settings.worker_backoff_base_seconds * 2 ** max(0, attempts - 1)
    return min(MAX_BACKOFF_SECONDS, base) * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class RetryOn:
    error: type[Exception]
    # the name of the setting that gives the number of attempts
    attempts: str
    backoff: Backoff = exponential
    # said after the error when the job fails: what the clinic can do
    advice: str = ""

    def __post_init__(self) -> None:
        if self.attempts not in Settings.model_fields:
            raise ValueError(
                f"RetryOn({self.error.__name__}) names the setting {self.attempts!r}, which "
                "Settings does not have; name one of its fields, e.g. 'worker_max_attempts'"
            )

    def rescue(self, runtime: Runtime, job: Job, error: Exception) -> None:
        budget: int = getattr(runtime.settings, self.attempts)
        if job.attempts >= budget:
            advice = f"; {self.advice}" if self.advice else ""
            tries = f"{job.attempts} attempt{'' if job.attempts == 1 else 's'}"
            steps.fail(runtime, job, f"gave up after {tries}: {error}{advice}")
            return
        delay = self.backoff(runtime.settings, job.attempts)
        steps.retry(runtime, job, str(error), delay_seconds=delay)


@dataclass(frozen=True)
class FailOn:
    error: type[Exception]
    # delete the upload too: its bytes are counted nowhere once the attachment has failed
    delete_upload: bool = False

    def rescue(self, runtime: Runtime, job: Job, error: Exception) -> None:
        steps.fail(runtime, job, str(error), delete_upload=self.delete_upload)


@dataclass(frozen=True)
class QuarantineOn:
    error: type[Rejected]

    def rescue(self, runtime: Runtime, job: Job, error: Exception) -> None:
        assert isinstance(error, Rejected), f"QuarantineOn({self.error.__name__}) got {error!r}"
        steps.quarantine(runtime, job, error.source, error.reason)


Rule = RetryOn | FailOn | QuarantineOn


def _answer(rule: Rule, runtime: Runtime, job: Job) -> str:
    """The metrics' name for the rule's answer (a retry whose budget is spent fails)."""
    if isinstance(rule, RetryOn):
        return "retry" if job.attempts < getattr(runtime.settings, rule.attempts) else "fail"
    return "fail" if isinstance(rule, FailOn) else "quarantine"


class Rules:
    """Rules matched in order; `errors` is what a job's `except` clause catches."""

    def __init__(self, *rules: Rule) -> None:
        for rule in rules:
            if issubclass(LeaseLost, rule.error):
                raise ValueError(
                    f"{rule} would catch LeaseLost: a lost lease is not the job's to retry "
                    "or fail; name a narrower error class"
                )
        self.rules = rules
        self.errors = tuple(rule.error for rule in rules)

    def rule_for(self, error: Exception) -> Rule | None:
        return next((rule for rule in self.rules if isinstance(error, rule.error)), None)

    def rescue(self, runtime: Runtime, job: Job, error: Exception) -> None:
        """Answers error by the first rule that names it; re-raises it when none does."""
        rule = self.rule_for(error)
        if rule is None:
            raise error
        metrics.job_error(error, _answer(rule, runtime, job))
        try:
            rule.rescue(runtime, job, error)
        except self.errors as later:
            then = self.rule_for(later)
            if then is None or then is rule:
                raise
            then.rescue(runtime, job, later)
