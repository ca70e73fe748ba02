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
    ('time_zone = "localtime"\n', "time_zone"),  # the host's: machines would disagree
    ("[message_response]\nwindow_hours = true\n", "message_response.window_hours"),  # was read as 1
    ("[message_response]\nwindow_hours = \"48\"\n", "message_response.window_hours"),
    ("[message_response]\nwindow_hours = 48.0\n", "message_response.window_hours"),
    ("[star_seller]\nmin_tenure_days = false\n", "star_seller.min_tenure_days"),
    ("[case_rate]\nmax_cases = true\n", "case_rate.max_cases"),
    ("[on_time_shipping]\nmin_percent = true\n", "on_time_shipping.min_percent"),
    # Past the calendar's range (the year 9999): refused, not an overflow mid-run.
    ("[message_response]\nwindow_hours = 99999999999999999\n", "message_response.window_hours"),
    ("allowed_lateness_hours = 100000000\n", "allowed_lateness_hours"),
    ("evaluation_delay_hours = 100000000\n", "evaluation_delay_hours"),
    ("[alerts]\nresponse_lead_hours = 0\n", "alerts.response_lead_hours"),  # would warn of nothing
    ('name = ""\n', "name"),
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


def test_an_unknown_key_is_refused_with_the_keys_of_its_table(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("[message_response]\nresponse_window_hours = 24\n")  # a key of [star_seller]
    with pytest.raises(PolicyError, match=r"message_response\.response_window_hours: unknown key; "
                                          r"\[message_response\] has window_hours, min_percent$"):
        load_policy(path)


def test_a_wrong_type_is_refused_with_the_value_given(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("[message_response]\nwindow_hours = true\n")
    with pytest.raises(PolicyError, match=r"message_response\.window_hours: .*integer.*, got true$"):
        load_policy(path)


def test_a_file_that_is_not_utf8_is_refused_naming_it(tmp_path):
    path = tmp_path / "p.toml"
    path.write_bytes(b'name = "\xff\xfe"\n')
    with pytest.raises(PolicyError, match=r"p\.toml: is not UTF-8 text"):
        load_policy(path)


def test_a_percent_in_exponent_form_is_shown_plain(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[case_rate]\nmax_case_percent = "1E+1"\n')
    assert str(load_policy(path).case_rate.max_case_percent) == "10"


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "p.toml"
    path.write_bytes(b"\xef\xbb\xbf[message_response]\nwindow_hours = 36\n")  # as some editors save UTF-8
    assert load_policy(path).message_response.window_hours == 36
