from __future__ import annotations

from pathlib import Path

import pytest

from change_advisor.errors import ChangeRequestError
from change_advisor.request import ChangeType, load_change_request

EXAMPLES = Path(__file__).parents[2] / "examples" / "changes"


@pytest.mark.parametrize(
    "name", ["deploy-checkout.yaml", "manifest-payments.yaml", "db-migration.json", "git-range.yaml"]
)
def test_examples_load(name: str) -> None:
    request = load_change_request(EXAMPLES / name)
    assert request.targets


def test_type_spelling_and_relative_paths() -> None:
    request = load_change_request(EXAMPLES / "db-migration.json")
    assert request.type is ChangeType.database_migration
    manifests = load_change_request(EXAMPLES / "manifest-payments.yaml").change.manifests
    assert manifests is not None and manifests.before.is_file()


def test_every_problem_is_reported_with_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "cr.yaml"
    path.write_text(
        "id: 'bad id!'\n"
        "title: t\n"
        "type: teleport\n"
        "targets: []\n"
        "window: {start: 2026-03-03T10:00:00+00:00, end: 2026-03-03T09:00:00+00:00}\n"
        "author: a\n"
        "colour: red\n"
        "change: {}\n"
    )
    with pytest.raises(ChangeRequestError) as caught:
        load_change_request(path)
    text = str(caught.value)
    assert f"{path}:1 id: expected letters" in text
    assert f"{path}:3 type: unknown change type 'teleport'" in text
    assert f"{path}:4 targets: List should have at least 1 item" in text
    assert f"{path}:5 window: end 2026-03-03T09:00:00+00:00 must be after start" in text
    assert f"{path}:7 colour: unknown field 'colour'" in text
    assert f"{path}:8 change: expected at least one of diff_stats, git, manifests" in text
    assert len(caught.value.issues) == 6


def test_naive_times_and_broken_yaml_and_json(tmp_path: Path) -> None:
    naive = tmp_path / "naive.yaml"
    naive.write_text((EXAMPLES / "deploy-checkout.yaml").read_text().replace("+00:00", ""))
    with pytest.raises(ChangeRequestError, match="need a time zone"):
        load_change_request(naive)
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n")
    with pytest.raises(ChangeRequestError, match=r"broken.yaml:2:1: invalid YAML"):
        load_change_request(broken)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"id": }')
    with pytest.raises(ChangeRequestError, match=r"bad.json:1:8: invalid JSON"):
        load_change_request(bad_json)
    with pytest.raises(ChangeRequestError, match="cannot read file"):
        load_change_request(tmp_path / "missing.yaml")
