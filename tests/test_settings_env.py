"""Settings read from the environment: booleans are read strictly, HSTS preload is its own
choice, and each value is stated in one place."""

import runpy

import pytest
from django.conf import settings as django_settings
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from flashcards.settings import env_bool

SETTINGS_FILE = django_settings.BASE_DIR / "flashcards" / "settings.py"


def deployment_settings(monkeypatch, **environ):
    """The settings module's names as a deployment with this environment would read them."""
    for name in ("DEBUG", "REDIS_URL", "DATABASE_URL", "HTTPS", "HSTS_PRELOAD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", "x" * 50)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


# Booleans.


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "True", "yes", "Yes", "on", "ON", " on "])
def test_the_usual_spellings_of_on_read_as_true(monkeypatch, value):
    monkeypatch.setenv("FLAG", value)
    assert env_bool("FLAG") is True


@pytest.mark.parametrize("value", ["0", "false", "FALSE", "no", "No", "off", "OFF"])
def test_the_usual_spellings_of_off_read_as_false(monkeypatch, value):
    monkeypatch.setenv("FLAG", value)
    assert env_bool("FLAG", default=True) is False


@pytest.mark.parametrize("default", [True, False])
def test_an_unset_or_empty_variable_reads_as_its_default(monkeypatch, default):
    monkeypatch.delenv("FLAG", raising=False)
    assert env_bool("FLAG", default) is default
    monkeypatch.setenv("FLAG", "")
    assert env_bool("FLAG", default) is default


@pytest.mark.parametrize("value", ["ture", "2", "enabled", "y", "-1", "offf"])
def test_a_value_that_is_neither_on_nor_off_is_refused_with_its_name_and_value(monkeypatch, value):
    monkeypatch.setenv("HTTPS", value)
    with pytest.raises(ImproperlyConfigured, match=f"^HTTPS='{value}' is neither on"):
        env_bool("HTTPS")


def test_a_deployment_with_a_misspelt_https_refuses_to_start(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="HTTPS='ture'"):
        deployment_settings(monkeypatch, HTTPS="ture")


# HSTS preload.


def deploy_warnings(settings, names):
    for name in (
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SILENCED_SYSTEM_CHECKS",
    ):
        setattr(settings, name, names[name])
    messages = run_checks(tags=["security"], include_deployment_checks=True)
    return {message.id for message in messages if not message.is_silenced()}


def test_https_sends_hsts_without_asking_to_be_preloaded(monkeypatch, settings):
    names = deployment_settings(monkeypatch, HTTPS="1")
    assert names["SECURE_HSTS_SECONDS"] == 31536000
    assert names["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert names["SECURE_HSTS_PRELOAD"] is False
    assert "security.W021" not in deploy_warnings(settings, names)


def test_hsts_preload_is_asked_for_only_with_its_own_variable(monkeypatch, settings):
    names = deployment_settings(monkeypatch, HTTPS="1", HSTS_PRELOAD="1")
    assert names["SECURE_HSTS_PRELOAD"] is True
    assert names["SILENCED_SYSTEM_CHECKS"] == []
    assert "security.W021" not in deploy_warnings(settings, names)


# Values stated once.


def test_the_id_field_of_the_apps_models_is_stated_in_one_place():
    sources = [
        path
        for path in (django_settings.BASE_DIR / "flashcards").rglob("*.py")
        if "migrations" not in path.parts and "BigAutoField" in path.read_text()
    ]
    assert [path.name for path in sources] == ["apps.py"]


def test_an_upload_up_to_the_import_limit_is_read_in_memory():
    assert django_settings.MAX_IMPORT_BYTES == 10 * 1024 * 1024
    assert django_settings.FILE_UPLOAD_MAX_MEMORY_SIZE == django_settings.MAX_IMPORT_BYTES
