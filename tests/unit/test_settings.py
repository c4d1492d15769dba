from __future__ import annotations

from jobclusters.settings import Settings


def test_secret_settings_never_show_in_repr() -> None:
    s = Settings.from_mapping({"DATABRICKS_TOKEN": "dapi0123456789abcdef", "BATCH_ACCOUNT_KEY": "k3y=="})
    assert "dapi0123456789abcdef" not in repr(s)
    assert "k3y==" not in str(s.model_dump())
    assert s.databricks_token is not None and s.databricks_token.get_secret_value() == "dapi0123456789abcdef"


def test_empty_settings_values_count_as_unset_and_tags_split_on_commas() -> None:
    s = Settings.from_mapping({"DATABRICKS_HOST": "", "JOBCLUSTERS_REQUIRED_TAGS": "Project, Owner"})
    assert s.databricks_host is None
    assert s.required_cost_tags == ("Project", "Owner")


def test_sample_settings_file_lists_every_setting_the_app_reads() -> None:
    import json
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "local.settings.sample.json"
    values = json.loads(sample.read_text())["Values"]
    read = {field.alias for field in Settings.model_fields.values()}
    assert read - values.keys() == set()
    assert Settings.from_mapping(values).mode == "local"
