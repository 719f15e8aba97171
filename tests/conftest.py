"""Test harness plugins: each real server has its own module under tests/harness/."""

pytest_plugins: list[str] = ["tests.harness.cluster"]
