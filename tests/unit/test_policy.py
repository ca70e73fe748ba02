"""The policy file: defaults of SPEC section 1, overrides, errors naming the key."""
from __future__ import annotations

import pytest

from standards.calendar import DAY, HOUR
from standards.policy import PolicyError, load_policy


def test_without_a_file_the_policy_is_service_standards(tmp_path):
    policy = load_policy(None)
    assert policy.name == "service-standards"
    assert policy.windows == (48 * HOUR, 24 * HOUR)
    assert (policy.max_order_total_cents, policy.min_sales_cents, policy.min_tenure) == (25000, 30000, 90 * DAY)


def test_a_file_overrides_only_its_keys(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('name = "strict"\n[message_response]\nmin_percent = "90.5"\n[case_rate]\nmax_order_total = "100.5"\n')
    policy = load_policy(path)
    assert (policy.name, str(policy.message_response.min_percent)) == ("strict", "90.5")
    assert policy.max_order_total_cents == 10050
    assert policy.on_time_shipping.min_percent == 80


@pytest.mark.parametrize("text, key", [
    ("[case_rate]\nmax_casez = 3\n", "case_rate.max_casez"),
    ("[star_seller]\nmin_sales = \"1.234\"\n", "star_seller.min_sales"),
    ("[message_response]\nwindow_hours = \"two days\"\n", "message_response.window_hours"),
    ("[on_time_shipping]\nmin_percent = 101\n", "on_time_shipping.min_percent"),
    ("evaluation_delay_hours = -1\n", "evaluation_delay_hours"),
    ('time_zone = "Mars/Olympus_Mons"\n', "time_zone"),
    ('time_zone = "../../etc/passwd"\n', "time_zone"),
    ('time_zone = "-03:00"\n', "time_zone"),
    ('time_zone = "America"\n', "time_zone"),
])
def test_a_bad_key_is_refused_with_its_path(tmp_path, text, key):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
        load_policy(path)


def test_a_file_that_is_not_toml_is_refused(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("[case_rate\n")
    with pytest.raises(PolicyError, match="p.toml"):
        load_policy(path)
