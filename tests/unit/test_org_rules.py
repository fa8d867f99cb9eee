"""ORG-2 / FAQ 3: naming rules of learning organisations and branches, without the bot."""
from __future__ import annotations

import pytest

from bot.errors import DomainError
from bot.services.orgs import NAME_SOFT_MAX, check_org_name, clean_branch_name, clean_region


def refusal(fn, *args) -> DomainError:
    with pytest.raises(DomainError) as exc:
        fn(*args)
    return exc.value


def test_org_2_plain_party_name_is_accepted_and_trimmed():
    checked = check_org_name("  中共江苏省委宣传部机关委员会 ", "party")
    assert (checked.name, checked.long) == ("中共江苏省委宣传部机关委员会", False)


def test_org_2_name_over_20_characters_is_a_warning_not_a_refusal():
    name = "中国石化集团南京化学工业有限公司党委员会机关"
    assert len(name) > NAME_SOFT_MAX
    assert check_org_name(name, "party").long is True
    assert check_org_name("一" * 20, "party").long is False


def test_org_2_name_over_50_characters_is_refused():
    exc = refusal(check_org_name, "一" * 51, "party")
    assert (exc.key, exc.params) == ("org.name_too_long", {"length": 51, "limit": 50})
    assert check_org_name("一" * 50, "party").long


@pytest.mark.parametrize("kind", ["party", "nonparty"])
def test_org_2_name_with_trailing_xuexi_guanlizu_is_refused(kind):
    exc = refusal(check_org_name, "江苏省委宣传部学习管理组", kind)
    assert exc.key == "org.name_needless_suffix" and exc.params["suggestion"] == "江苏省委宣传部"


def test_org_2_nonparty_name_must_end_in_dangwai_renshi_xuexi_zuzhi():
    assert refusal(check_org_name, "江苏省委宣传部", "nonparty").key == "org.nonparty_suffix"
    assert refusal(check_org_name, "党外人士学习组织", "nonparty").key == "org.nonparty_suffix"
    assert check_org_name("江苏省党外人士学习组织", "nonparty").name == "江苏省党外人士学习组织"


@pytest.mark.parametrize("raw", ["", "   ", "\u3164", "\u200b \u3000"])
def test_org_2_empty_or_blank_name_is_refused(raw):
    assert refusal(check_org_name, raw, "party").key == "org.name_empty"


def test_org_1_region_is_2_to_40_characters():
    assert clean_region(" 河南省郑州市金水区 ") == "河南省郑州市金水区"
    assert refusal(clean_region, "豫").key == "org.region_length"
    assert refusal(clean_region, "省" * 41).params["length"] == 41


def test_org_3_branch_names_are_1_to_30_characters():
    assert clean_branch_name(" 第一党支部 ") == "第一党支部"
    assert refusal(clean_branch_name, " ").key == "org.branch_name_empty"
    assert refusal(clean_branch_name, "支" * 31).key == "org.branch_name_too_long"
