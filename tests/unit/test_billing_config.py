"""Billing settings (SPEC §3, §12.5): PROMPTCORE_BILLING and the YooKassa variables."""

import pytest

from entrypoints.config import ConfigError, load_settings
from promptcore.services.billing import DEFAULT_WEBHOOK_NETWORKS

PROD = {"PROMPTCORE_ENV": "production", "PROMPTCORE_SECRET_KEY": "p" * 40, "PROMPTCORE_SMTP_URL": "smtp://mail:25",
        "OPENROUTER_API_KEY": "sk-x", "PROMPTCORE_DATABASE_URL": "postgresql://u@db/promptcore"}
SHOP = {"PROMPTCORE_YOOKASSA_SHOP_ID": "123456", "PROMPTCORE_YOOKASSA_SECRET_KEY": "live_very_secret_key"}


def test_billing_defaults_by_environment(tmp_path):
    dev = load_settings({"PROMPTCORE_VAR_DIR": str(tmp_path)})
    assert dev.billing == "dev-checkout"
    assert dev.yookassa_webhook_networks == DEFAULT_WEBHOOK_NETWORKS + ("127.0.0.1/32", "::1/128")
    assert load_settings(PROD).billing == "off"
    assert load_settings({"PROMPTCORE_ENV": "test"}).billing == "off"
    s = load_settings({**PROD, **SHOP})
    assert s.billing == "yookassa" and s.yookassa_webhook_networks == DEFAULT_WEBHOOK_NETWORKS
    assert (s.yookassa_api_url, s.yookassa_vat_code, s.billing_grace_days) == ("https://api.yookassa.ru/v3", 1, 3)
    assert "live_very_secret_key" not in repr(s)


def test_billing_values_are_read(tmp_path):
    s = load_settings({**PROD, **SHOP, "PROMPTCORE_YOOKASSA_API_URL": "http://127.0.0.1:9200/v3/",
                       "PROMPTCORE_YOOKASSA_WEBHOOK_NETWORKS": "10.0.0.0/8, 2001:db8::1",
                       "PROMPTCORE_YOOKASSA_VAT_CODE": "4", "PROMPTCORE_BILLING_GRACE_DAYS": "7"})
    assert s.yookassa_api_url == "http://127.0.0.1:9200/v3"
    assert s.yookassa_webhook_networks == ("10.0.0.0/8", "2001:db8::1")
    assert (s.yookassa_vat_code, s.billing_grace_days) == (4, 7)
    assert load_settings({**PROD, **SHOP, "PROMPTCORE_BILLING": "off"}).billing == "off"


@pytest.mark.parametrize("change,variable", [
    ({"PROMPTCORE_BILLING": "dev-checkout"}, "PROMPTCORE_BILLING=dev-checkout"),
    ({"PROMPTCORE_BILLING": "stripe"}, "PROMPTCORE_BILLING"),
    ({"PROMPTCORE_BILLING": "yookassa"}, "PROMPTCORE_YOOKASSA_SHOP_ID"),
    ({"PROMPTCORE_YOOKASSA_SHOP_ID": "123"}, "PROMPTCORE_YOOKASSA_SECRET_KEY"),
    ({**SHOP, "PROMPTCORE_YOOKASSA_SHOP_ID": "1:2"}, "PROMPTCORE_YOOKASSA_SHOP_ID"),
    ({**SHOP, "PROMPTCORE_YOOKASSA_API_URL": "ftp://x"}, "PROMPTCORE_YOOKASSA_API_URL"),
    ({**SHOP, "PROMPTCORE_YOOKASSA_WEBHOOK_NETWORKS": "10.0.0.0/8,not-a-network"},
     "PROMPTCORE_YOOKASSA_WEBHOOK_NETWORKS"),
    ({**SHOP, "PROMPTCORE_YOOKASSA_VAT_CODE": "13"}, "PROMPTCORE_YOOKASSA_VAT_CODE"),
    ({**SHOP, "PROMPTCORE_YOOKASSA_VAT_CODE": "0"}, "PROMPTCORE_YOOKASSA_VAT_CODE"),
    ({**SHOP, "PROMPTCORE_BILLING_GRACE_DAYS": "-1"}, "PROMPTCORE_BILLING_GRACE_DAYS"),
])
def test_bad_billing_values_stop_start_up_with_one_line(change, variable):
    with pytest.raises(ConfigError) as info:
        load_settings({**PROD, **change})
    message = str(info.value)
    assert variable in message and "\n" not in message
    assert "live_very_secret_key" not in message
