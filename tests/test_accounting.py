"""Every test of the rendered projects runs and passes somewhere, and skips only where it should.

Each combination of test_render.py runs its project's own suite with a JUnit report. A rendered
suite adapts to its answers by skipping (a token-only test under JWT, a browser test without
Chromium), so a project that passes can still hide a test that never runs anywhere. This test
reads every report once the matrix is over and holds the suites to two rules:

- every test id passes in at least one combination;
- every skip gives a reason listed in ALLOWED_SKIPS, in a combination where that entry says the
  test does not apply.

It runs last (tests/conftest.py orders it) and waits for the combinations still running.
"""

import os
import re
import shutil
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import yaml

from .conftest import ACCOUNTING
from .matrix import combinations
from .test_render import RUNS

STALLED_AFTER = 20 * 60  # seconds without a combination finishing: something hangs
# A test parametrized over the entity's fields of one kind has no case when there are none; pytest
# reports a placeholder skipped with this reason. The test's function must still pass elsewhere.
EMPTY_PARAMETERS = "got empty parameter set"
NO_BROWSER = "no chromium on this machine"


@dataclass(frozen=True)
class Answers:
    """What a skip depends on, read from a render's answers file."""

    auth: str
    rooms: bool
    fields: dict[str, str]

    @property
    def has_optional_field(self) -> bool:
        return any(kind.endswith("?") for kind in self.fields.values())

    @property
    def has_required_field(self) -> bool:
        return not all(kind.endswith("?") for kind in self.fields.values())

    @property
    def has_text_field(self) -> bool:
        return any(
            kind.rstrip("?") == "str" and not (name == "email" or name.endswith("_email"))
            for name, kind in self.fields.items()
        )


def browser_required() -> bool:
    return bool(os.environ.get("REQUIRE_BROWSER")) or bool(
        shutil.which("chromium") or shutil.which("chromium-browser")
    )


# A skip reason of the rendered suites -> (where the skipped test runs, which answers those are).
ALLOWED_SKIPS: dict[str, tuple[str, Callable[[Answers], bool]]] = {
    "the entity has no optional field": (
        "entities with an optional field",
        lambda a: a.has_optional_field,
    ),
    "the entity has no required field": (
        "entities with a required field",
        lambda a: a.has_required_field,
    ),
    "the entity has no text field": ("entities with a text field", lambda a: a.has_text_field),
    "small events would take too long to back up": (
        "entities with a text field",
        lambda a: a.has_text_field,
    ),
    "without auth every caller is the same subject": (
        "auth token or jwt",
        lambda a: a.auth != "none",
    ),
    "with auth the room policy guards private rooms": ("auth none", lambda a: a.auth == "none"),
    "rooms are off": ("rooms on", lambda a: a.rooms),
    "JSON Web Tokens only (auth = jwt)": ("auth jwt", lambda a: a.auth == "jwt"),
    "static API tokens only (auth = token)": ("auth token", lambda a: a.auth == "token"),
    NO_BROWSER: ("every combination, with Chromium", lambda a: browser_required()),
}


@dataclass(frozen=True)
class Outcome:
    combination: str
    status: str  # passed, skipped or failed
    reason: str = ""  # why it was skipped

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def read_answers(label: str) -> Answers:
    text = (RUNS / f"{label}.answers.yml").read_text()
    answers = yaml.safe_load(text)
    # The same reading as copier.yml's: `str?` is not YAML until quoted.
    fields = yaml.safe_load(re.sub(r":\s*([a-z]+)\?", r': "\1?"', answers["fields"]))
    return Answers(auth=answers["auth"], rooms=answers["rooms"], fields=fields)


def read_report(label: str) -> dict[str, Outcome]:
    outcomes = {}
    for case in ET.parse(RUNS / f"{label}.xml").getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            outcomes[test_id] = Outcome(label, "failed")
        elif skipped is not None:
            reason = skipped.get("message", "").removeprefix("Skipped: ").strip()
            outcomes[test_id] = Outcome(label, "skipped", reason)
        else:
            outcomes[test_id] = Outcome(label, "passed")
    return outcomes


def wait_for(labels: set[str]) -> None:
    """Until every combination has finished (test_render.py leaves a marker either way)."""
    done: set[str] = set()
    last_progress = time.monotonic()
    while done != labels:
        finished = {label for label in labels if (RUNS / f"{label}.done").exists()}
        if finished != done:
            done, last_progress = finished, time.monotonic()
        elif time.monotonic() - last_progress > STALLED_AFTER:
            pytest.fail(
                f"no combination finished in {STALLED_AFTER} s; waiting for {labels - done}"
            )
        time.sleep(1)


def function_of(test_id: str) -> str:
    return test_id.split("[", 1)[0]


def test_every_rendered_test_passes_somewhere_and_skips_only_where_allowed(
    request: pytest.FixtureRequest,
) -> None:
    selected = {
        item.callspec.params["label"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_rendered_project_passes_its_own_checks"
    }
    if selected != set(combinations()):
        pytest.skip("the accounting needs every combination of test_render.py")
    wait_for(selected)

    problems, report = account(sorted(selected))

    ACCOUNTING.write_text(report)
    assert not problems, "\n".join(problems)


def account(labels: list[str]) -> tuple[list[str], str]:
    """What is wrong with the combinations' reports, and a summary of them."""
    problems: list[str] = []
    by_test: dict[str, list[Outcome]] = defaultdict(list)
    for label in labels:
        if not (RUNS / f"{label}.xml").exists():
            problems.append(f"{label}: no test report (its checks failed before its tests ran)")
            continue
        answers = read_answers(label)
        for test_id, outcome in read_report(label).items():
            by_test[test_id].append(outcome)
            if outcome.status != "skipped" or outcome.reason.startswith(EMPTY_PARAMETERS):
                continue  # an empty parameter set has no case to skip: see never_run below
            if outcome.reason not in ALLOWED_SKIPS:
                problems.append(
                    f"{test_id} in {label}: skip reason not allowed: {outcome.reason!r}"
                )
            elif ALLOWED_SKIPS[outcome.reason][1](answers):
                where = ALLOWED_SKIPS[outcome.reason][0]
                problems.append(f"{test_id} in {label}: skipped, but it must run for {where}")

    passed = {test_id for test_id, outcomes in by_test.items() if any(o.passed for o in outcomes)}
    passed_functions = {function_of(test_id) for test_id in passed}
    no_browser: list[str] = []
    caseless: set[str] = set()
    for test_id in sorted(by_test.keys() - passed):
        reasons = {outcome.reason for outcome in by_test[test_id]}
        if all(reason.startswith(EMPTY_PARAMETERS) for reason in reasons):
            if function_of(test_id) not in passed_functions | caseless:
                caseless.add(function_of(test_id))
                problems.append(f"{function_of(test_id)}: has a case in no combination")
        elif reasons == {NO_BROWSER} and not browser_required():
            no_browser.append(test_id)
        else:
            problems.append(f"{test_id}: passes in no combination")
    return problems, summary(by_test, len(labels), no_browser, complete=not problems)


def summary(
    by_test: dict[str, list[Outcome]],
    combinations_run: int,
    no_browser: list[str],
    *,
    complete: bool,
) -> str:
    runs = [outcome for outcomes in by_test.values() for outcome in outcomes]
    status = Counter(outcome.status for outcome in runs)
    reasons = Counter(o.reason for o in runs if o.status == "skipped")
    lines = [
        f"{len(by_test)} test ids in {combinations_run} combinations: {len(runs)} runs,"
        f" {status['passed']} passed, {status['skipped']} skipped, {status['failed']} failed"
        + ("; every test id passes in at least one combination" if complete else ""),
        *(f"  skipped {count:4} x  {reason}" for reason, count in reasons.most_common()),
    ]
    if no_browser:
        lines.append(f"{len(no_browser)} browser tests ran nowhere: no chromium on this machine")
    return "\n".join(lines) + "\n"
