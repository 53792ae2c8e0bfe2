from pathlib import Path

import pytest

from soulsgen_lib.settings import Secret, Settings, SettingsError, read_env_file, update_env_file


def test_defaults_without_env_or_file(tmp_path):
    settings = Settings.load(env_file=tmp_path / "missing.env", environ={})
    assert settings.home == Path("artifacts")
    assert settings.bucket == ""
    assert settings.twitter_api_base_url == "https://api.twitter.com"
    assert settings.post_daily_budget == 17
    assert not settings.twitter_consumer_key


def test_environment_variables_are_read_with_their_user_facing_names(tmp_path):
    environ = {
        "CONTAINER_REG": "europe-docker.pkg.dev/p/r",
        "BUCKET": "gs://souls",
        "DATASOURCE_DIR": "/data/msg",
        "TORCHSERVE_ENDPOINT": "http://127.0.0.1:8080",
        "TWITTER_CONSUMER_KEY": "ck",
        "TWITTER_CONSUMER_SECRET": "cs",
        "TWITTER_ACCESS_TOKEN": "at",
        "TWITTER_TOKEN_SECRET": "ts",
        "SOULSGEN_HOME": "/srv/soulsgen",
        "POST_DAILY_BUDGET": "5",
    }
    settings = Settings.load(env_file=None, environ=environ)
    assert settings.container_reg == "europe-docker.pkg.dev/p/r"
    assert settings.bucket == "gs://souls"
    assert settings.datasource_dir == Path("/data/msg")
    assert settings.torchserve_endpoint == "http://127.0.0.1:8080"
    assert settings.twitter_consumer_key.get_secret_value() == "ck"
    assert settings.twitter_consumer_secret.get_secret_value() == "cs"
    assert settings.twitter_access_token.get_secret_value() == "at"
    assert settings.twitter_token_secret.get_secret_value() == "ts"
    assert settings.home == Path("/srv/soulsgen")
    assert settings.post_daily_budget == 5


def test_dotenv_file_is_read(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "\ufeff# comment line\n"
        "BUCKET=gs://from-file\n"
        "export TWITTER_CONSUMER_KEY='quoted key'\n"
        'TORCHSERVE_ENDPOINT="http://host:9000"\n'
        "CONTAINER_REG=reg.example/x # trailing comment\n"
        "\n"
    )
    settings = Settings.load(env_file=env_file, environ={})
    assert settings.bucket == "gs://from-file"
    assert settings.twitter_consumer_key.get_secret_value() == "quoted key"
    assert settings.torchserve_endpoint == "http://host:9000"
    assert settings.container_reg == "reg.example/x"


def test_precedence_option_over_environment_over_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("BUCKET=gs://file\nCONTAINER_REG=file-reg\nSOULSGEN_HOME=/file\n")
    environ = {"BUCKET": "gs://env", "CONTAINER_REG": "env-reg"}
    settings = Settings.load(env_file=env_file, environ=environ, bucket="gs://option", container_reg=None)
    assert settings.bucket == "gs://option"
    assert settings.container_reg == "env-reg"
    assert settings.home == Path("/file")


def test_secrets_are_masked_in_repr_str_and_describe():
    settings = Settings.load(
        env_file=None,
        environ={"TWITTER_CONSUMER_SECRET": "s3cr3t-value", "TWITTER_TOKEN_SECRET": "tok-s3cr3t"},
    )
    for shown in (repr(settings), str(settings), f"{settings.twitter_token_secret}", str(settings.describe())):
        assert "s3cr3t-value" not in shown
        assert "tok-s3cr3t" not in shown
    described = {env: value for env, value, _ in settings.describe()}
    assert described["TWITTER_CONSUMER_SECRET"] == "(set, hidden)"
    assert described["TWITTER_ACCESS_TOKEN"] == "(not set)"
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


def test_invalid_values_and_lines_name_the_problem(tmp_path):
    with pytest.raises(SettingsError, match="POST_DAILY_BUDGET must be a whole number"):
        Settings.load(env_file=None, environ={"POST_DAILY_BUDGET": "lots"})
    bad = tmp_path / ".env"
    bad.write_text("BUCKET=gs://ok\nthis line is wrong\n")
    with pytest.raises(SettingsError, match=r"\.env:2: expected KEY=VALUE"):
        read_env_file(bad)
    with pytest.raises(SettingsError, match="unknown settings: nonsense"):
        Settings.load(env_file=None, environ={}, nonsense=1)


def test_update_env_file_keeps_other_lines(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# my keys\nBUCKET=gs://keep\nTWITTER_ACCESS_TOKEN=old\n")
    update_env_file(env_file, {"TWITTER_ACCESS_TOKEN": "new", "TWITTER_TOKEN_SECRET": "sec"})
    assert env_file.read_text() == "# my keys\nBUCKET=gs://keep\nTWITTER_ACCESS_TOKEN=new\nTWITTER_TOKEN_SECRET=sec\n"
    assert env_file.stat().st_mode & 0o777 == 0o600


def test_update_env_file_with_a_duplicated_key_updates_the_line_the_reader_takes(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("TWITTER_ACCESS_TOKEN=first\nBUCKET=gs://keep\nTWITTER_ACCESS_TOKEN=second\n")
    assert read_env_file(env_file)["TWITTER_ACCESS_TOKEN"] == "second"  # the reader takes the last line

    update_env_file(env_file, {"TWITTER_ACCESS_TOKEN": "new"})

    assert read_env_file(env_file) == {"TWITTER_ACCESS_TOKEN": "new", "BUCKET": "gs://keep"}


def test_update_env_file_through_a_symlink_updates_its_target(tmp_path):
    (tmp_path / "secrets").mkdir()
    real = tmp_path / "secrets" / "soulsgen.env"
    real.write_text("BUCKET=gs://keep\n")
    link = tmp_path / ".env"
    link.symlink_to(real)

    update_env_file(link, {"MASTODON_ACCESS_TOKEN": "tok"})

    assert link.is_symlink() and link.resolve() == real
    assert read_env_file(real) == {"BUCKET": "gs://keep", "MASTODON_ACCESS_TOKEN": "tok"}


def test_update_env_file_that_cannot_be_written_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")

    with pytest.raises(SettingsError, match=r"a-file/\.env: cannot write"):
        update_env_file(blocker / ".env", {"BUCKET": "gs://b"})
