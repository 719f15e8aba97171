"""Test harness plugins: each real server has its own module under tests/harness/."""

pytest_plugins: list[str] = [
    "tests.harness.prometheus",
    "tests.harness.rt",
    "tests.harness.smtp",
    "tests.harness.cluster",
    "tests.harness.postgres",
]
