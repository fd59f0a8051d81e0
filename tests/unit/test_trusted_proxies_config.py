"""PROMPTCORE_TRUSTED_PROXIES (SPEC §3): how many reverse-proxy hops to trust for X-Forwarded-For."""

import pytest

from entrypoints.config import ConfigError, load_settings

TEST = {"PROMPTCORE_ENV": "test"}


def test_no_proxy_is_trusted_by_default():
    assert load_settings(TEST).trusted_proxies == 0


@pytest.mark.parametrize("raw,value", [("0", 0), ("1", 1), ("2", 2), ("10", 10), ("", 0)])
def test_a_hop_count_is_read(raw, value):
    assert load_settings({**TEST, "PROMPTCORE_TRUSTED_PROXIES": raw}).trusted_proxies == value


@pytest.mark.parametrize("raw", ["-1", "11", "one", "1.5", "true", "10.0.0.1"])
def test_bad_values_stop_start_up_with_one_line_naming_the_variable(raw):
    with pytest.raises(ConfigError) as info:
        load_settings({**TEST, "PROMPTCORE_TRUSTED_PROXIES": raw})
    message = str(info.value)
    assert "PROMPTCORE_TRUSTED_PROXIES" in message and "\n" not in message
