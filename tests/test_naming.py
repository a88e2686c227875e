"""Derived names: one function each, within the vendors' limits, and the safety check."""

from __future__ import annotations

import pytest

from concurrent_test_app.databases import naming
from concurrent_test_app.exceptions import UnsafeDatabaseNameError

FP = "0123456789abcdef" * 4
OTHER_FP = "fedcba9876543210" * 4


def test_template_building_and_clone_names_parse_back() -> None:
    prefix = naming.name_prefix("test_shop", "default", project="shop")
    template = naming.template_name(prefix, FP)
    building = naming.building_name(prefix, FP)
    clone = naming.clone_name(template, 3, "a1b2c3")
    assert prefix == "test_shop_shop_default"
    assert template.startswith("test_shop_shop_default_tpl_0123456789ab_")
    parsed = naming.assert_derived(clone, kind=naming.CLONE)
    assert (parsed.prefix, parsed.slot, parsed.token, parsed.fingerprint) == (
        prefix,
        3,
        "a1b2c3",
        FP[:12],
    )
    assert naming.assert_derived(building).kind == naming.BUILDING
    assert naming.assert_derived(template).kind == naming.TEMPLATE
    assert len({template, building, clone}) == 3


def test_ready_clone_names_parse_back_and_only_that_token_is_not_six_characters() -> None:
    template = naming.template_name(naming.name_prefix("test_shop", "default", "shop"), FP)
    ready = naming.clone_name(template, 9999, naming.READY_TOKEN)
    parsed = naming.assert_derived(ready, kind=naming.CLONE)
    assert (parsed.slot, parsed.token) == (9999, "ready")
    assert ready.startswith("test_shop_shop_default_w9999_0123456789ab_ready_")
    assert len(ready) <= naming.MAX_NAME_LENGTH
    with pytest.raises(UnsafeDatabaseNameError, match="run token"):
        naming.clone_name(template, 1, "spare")


def test_names_fit_postgresql_limit_even_for_long_inputs() -> None:
    prefix = naming.name_prefix(
        "test_" + "a_very_long_database_name" * 3, "reporting_replica", "x" * 40
    )
    template = naming.template_name(prefix, FP)
    clone = naming.clone_name(template, 9999, naming.new_run_token())
    assert len(prefix) <= naming.MAX_PREFIX_LENGTH
    assert len(template) <= 63 and len(clone) <= 63
    # Shortened prefixes still differ when the inputs differ.
    assert prefix != naming.name_prefix(
        "test_" + "a_very_long_database_name" * 3, "reporting_replica", "y" * 40
    )


def test_different_fingerprints_projects_and_aliases_never_share_a_name() -> None:
    names = {
        naming.template_name(naming.name_prefix("test_db", alias, project), fp)
        for alias in ("default", "other")
        for project in ("config1", "config2")
        for fp in (FP, OTHER_FP)
    }
    assert len(names) == 8


def test_two_runs_get_different_clone_names() -> None:
    template = naming.template_name(naming.name_prefix("test_db", "default", "p"), FP)
    tokens = {naming.new_run_token() for _ in range(20)}
    assert len({naming.clone_name(template, 1, token) for token in tokens}) == len(tokens)


@pytest.mark.parametrize(
    "name",
    [
        "postgres",
        "shop",
        "test_shop",
        "test_shop_shop_default_tpl_0123456789ab_0000",  # well formed, wrong check digits
        "",
        None,
    ],
)
def test_assert_derived_refuses_names_it_did_not_derive(name: object) -> None:
    with pytest.raises(UnsafeDatabaseNameError):
        naming.assert_derived(name)


def test_assert_derived_refuses_a_tampered_name() -> None:
    template = naming.template_name(naming.name_prefix("test_db", "default", "p"), FP)
    tampered = template.replace("_tpl_", "_bld_")
    with pytest.raises(UnsafeDatabaseNameError):
        naming.assert_derived(tampered)


def test_assert_derived_checks_the_kind() -> None:
    template = naming.template_name(naming.name_prefix("test_db", "default", "p"), FP)
    clone = naming.clone_name(template, 1, "abcdef")
    with pytest.raises(UnsafeDatabaseNameError, match="not a template"):
        naming.assert_derived(clone, kind=naming.TEMPLATE)
    with pytest.raises(UnsafeDatabaseNameError):
        naming.clone_name(clone, 2, "abcdef")  # a clone is never a clone source


def test_belongs_to_only_matches_the_same_prefix() -> None:
    mine = naming.name_prefix("test_db", "default", "mine")
    theirs = naming.name_prefix("test_db", "default", "theirs")
    name = naming.template_name(mine, FP)
    assert naming.belongs_to(name, mine)
    assert not naming.belongs_to(name, theirs)
    assert not naming.belongs_to("test_db", mine)


def test_sqlite_files_sit_beside_the_database_file(tmp_path) -> None:
    settings_dict = {"NAME": str(tmp_path / "db.sqlite3"), "TEST": {"NAME": None}}
    template = naming.template_name(naming.name_prefix("test_db", "default", "p"), FP)
    path = naming.sqlite_path(settings_dict, template)
    assert path.parent == tmp_path / naming.SQLITE_FOLDER
    assert naming.assert_derived(str(path)).kind == naming.TEMPLATE
    assert naming.sqlite_base_name(settings_dict) == "test_db"
    with pytest.raises(UnsafeDatabaseNameError):
        naming.sqlite_path(settings_dict, "db")


def test_project_name_setting_wins(settings) -> None:
    settings.PROJECT_NAME = "shop"
    assert naming.project_name() == "shop"
    settings.PROJECT_NAME = None
    assert naming.project_name() == naming.default_project_name()
