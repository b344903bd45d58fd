"""Settings for the 影都算力补助平台, read from the environment (see README "配置").

``YINGDU_ENV`` is ``development`` (default), ``test`` or ``production``. Production
requires every secret to be given and turns on the hardening that
``yingdu check --deploy`` looks for.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url

from core.env import ConfigError, env_bool, env_int, env_list, env_str, parse_email_url

BASE_DIR = Path(__file__).resolve().parent.parent
YINGDU_ENV = env_str("YINGDU_ENV", "development")
if YINGDU_ENV not in ("development", "test", "production"):
    raise ConfigError(f"YINGDU_ENV={YINGDU_ENV!r} must be development, test or production")
PRODUCTION = YINGDU_ENV == "production"
TESTING = YINGDU_ENV == "test"

VAR_DIR = Path(env_str("YINGDU_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if PRODUCTION:
        return env_str("SECRET_KEY")
    value = env_str("SECRET_KEY", "")
    if value:
        return value
    # Local runs keep a generated key in var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", default=YINGDU_ENV == "development")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ConfigError("ALLOWED_HOSTS is required in production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "huey.contrib.djhuey",
    "core",
    "ledger",
    "accounts",
    "ledger_web",
    "enterprises",
    "policy",
    "applications",
    "review",
    "monitoring",
    "audits",
    "reports",
    "demo",
    "yingdu",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ApiInputLimitsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "accounts.middleware.PasswordExpiryMiddleware",
    "accounts.middleware.StaffMfaMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "yingdu.urls"
WSGI_APPLICATION = "yingdu.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context.site",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'yingdu.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"].setdefault("OPTIONS", {})
    # WAL and a busy timeout let the web process and the Huey consumer share the file.
    DATABASES["default"]["OPTIONS"].update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "workbench"
LOGOUT_REDIRECT_URL = "home"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Argon2 costs ~50 ms a hash; the suite creates hundreds of users.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
PASSWORD_MIN_CLASSES = env_int("PASSWORD_MIN_CLASSES", 3)
PASSWORD_MAX_AGE_DAYS = env_int("PASSWORD_MAX_AGE_DAYS", 90)
PASSWORD_MIN_LENGTH = env_int("PASSWORD_MIN_LENGTH", 8)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "accounts.passwords.PolicyMinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "accounts.passwords.CharacterClassValidator"},
    {"NAME": "accounts.passwords.UserNameValidator"},
]

# Lockout (等保 身份鉴别): 5 failures lock the account for AXES_COOLOFF_MINUTES. These are the
# defaults; the security administrator's stored policy (accounts.security) overrides them.
AXES_DEFAULT_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_DEFAULT_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 30)
AXES_FAILURE_LIMIT = "accounts.security.axes_failure_limit"
AXES_COOLOFF_TIME = "accounts.security.axes_cooloff"
# By user name, and by user name from one address; never by address alone: behind a proxy
# every user may share one address, and five failures must not lock out everyone.
AXES_LOCKOUT_PARAMETERS = ["username", ["username", "ip_address"]]
# How many reverse proxies of ours stand in front of the application; 0 means none, and
# X-Forwarded-For is then ignored (a client could forge it); X-Real-IP is never read.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "ledger.actions.client_ip"
# The public progress query: queries one client address may make within the window (minutes).
PROGRESS_QUERY_LIMIT = env_int("PROGRESS_QUERY_LIMIT", 10)
PROGRESS_QUERY_WINDOW_MINUTES = env_int("PROGRESS_QUERY_WINDOW_MINUTES", 10)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False

# MFA (TOTP) for center staff and administrators (等保 2.0 双因素鉴别); on by default in production.
STAFF_MFA_REQUIRED = env_bool("STAFF_MFA_REQUIRED", default=PRODUCTION)
# Staff bind their authenticator only through a one-time link the security administrator issues.
MFA_ENROLMENT_HOURS = env_int("MFA_ENROLMENT_HOURS", 24)
OTP_TOTP_ISSUER = "影都算力补助平台"
OTP_TOTP_THROTTLE_FACTOR = 1

# Unified identity platform (统一身份认证平台) by OpenID Connect, beside local passwords. Off while
# OIDC_ISSUER is empty. Discovery at OIDC_ISSUER + /.well-known/openid-configuration; the
# authorization-code flow with PKCE; ID-token signature, issuer, audience, expiry and nonce checked.
OIDC_ISSUER = env_str("OIDC_ISSUER", "").rstrip("/")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET", "")
OIDC_SCOPES = env_str("OIDC_SCOPES", "openid profile email")
OIDC_TIMEOUT_SECONDS = env_int("OIDC_TIMEOUT_SECONDS", 10)
# Whether a second factor the provider asserts (amr/acr claims) stands for the staff TOTP check.
OIDC_PROVIDER_MFA = env_bool("OIDC_PROVIDER_MFA", False)
OIDC_MFA_AMR = env_list("OIDC_MFA_AMR", ["mfa", "otp", "hwk", "swk", "sms", "fpt", "face"])
OIDC_MFA_ACR = env_list("OIDC_MFA_ACR", [])
if OIDC_ISSUER and not (OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
    raise ConfigError("OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are required when OIDC_ISSUER is set")

# Sessions: idle timeout plus an absolute lifetime.
SESSION_IDLE_TIMEOUT_SECONDS = env_int("SESSION_IDLE_TIMEOUT_SECONDS", 30 * 60)
SESSION_COOKIE_AGE = env_int("SESSION_ABSOLUTE_SECONDS", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded materials live outside the web root; no URL serves MEDIA_ROOT directly.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o640

for key, value in parse_email_url(env_str("EMAIL_URL", "locmem://" if TESTING else "console://")).items():
    globals()[key] = value
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "影都算力补助平台 <noreply@yingdu.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# SMS, the third channel of notices that need action (core.sms): unset → written to the log;
# http(s)://… → an HTTP gateway that takes a JSON POST {"phone", "text"} (docs/sms.md).
SMS_URL = env_str("SMS_URL", "")
SMS_TIMEOUT = env_int("SMS_TIMEOUT", 10)  # seconds per request to the gateway
SMS_RETRIES = env_int("SMS_RETRIES", 5)  # further tries by the background worker after a failure
SMS_RETRY_DELAY = env_int("SMS_RETRY_DELAY", 60)  # seconds before the first retry, doubled each time

# Huey: SQLite storage in var/ by default, Redis when REDIS_URL is set (several app servers).
_redis_url = env_str("REDIS_URL", "")
HUEY = {
    "name": "yingdu",
    "immediate": env_bool("HUEY_IMMEDIATE", default=not PRODUCTION),
    "utc": True,
    "consumer": {"workers": env_int("HUEY_WORKERS", 2), "worker_type": "thread"},
}
if _redis_url:
    HUEY.update({"huey_class": "huey.RedisHuey", "url": _redis_url})
else:
    HUEY.update({"huey_class": "huey.SqliteHuey", "filename": str(VAR_DIR / "huey.sqlite3")})

# The ledger's signing key (Ed25519), created on first start.
LEDGER_KEY_PATH = Path(env_str("LEDGER_KEY_PATH", str(VAR_DIR / "ledger_ed25519.key")))
LEDGER_ORIGIN = env_str("LEDGER_ORIGIN", "yingdu.huairou.gov.cn/ledger")
LEDGER_HASH = env_str("LEDGER_HASH", "sha256")
# The latest checkpoint, also kept outside the database (ledger.seen); off in the test suite,
# whose throw-away logs share one var/ folder (the tests of it name their own file).
LEDGER_CHECKPOINT_PATH = env_str(
    "LEDGER_CHECKPOINT_PATH", "" if YINGDU_ENV == "test" else f"{LEDGER_KEY_PATH}.checkpoint"
)

# The center's signature on issued PDFs (core.signing): a certificate and key in production,
# a development CA made in var/signing/ otherwise; SIGNING_TSA_URL names an RFC 3161 timestamp service.
SIGNING_CERT = env_str("SIGNING_CERT", "")
SIGNING_KEY = env_str("SIGNING_KEY", "")
SIGNING_KEY_PASSPHRASE = env_str("SIGNING_KEY_PASSPHRASE", "")
SIGNING_CHAIN = env_list("SIGNING_CHAIN", [])
SIGNING_TSA_URL = env_str("SIGNING_TSA_URL", "")
SIGNING_LOCATION = env_str("SIGNING_LOCATION", "")
SIGNING_DEV_DIR = Path(env_str("SIGNING_DEV_DIR", str(VAR_DIR / "signing")))
if PRODUCTION and SIGNING_CERT and not SIGNING_KEY:
    raise ConfigError("SIGNING_KEY is required with SIGNING_CERT")
# Signatures on uploaded PDFs are checked against these CA files or folders (core.signatures);
# the development CA is trusted outside production. SM2 seals and OFD files need a verifier,
# named by dotted path; without one they read 签章未验证.
SIGNATURE_TRUST_ROOTS = env_list("SIGNATURE_TRUST_ROOTS", [])
SIGNATURE_TRUST_DEV_CA = env_bool("SIGNATURE_TRUST_DEV_CA", default=not PRODUCTION)
SIGNATURE_VERIFIER = env_str("SIGNATURE_VERIFIER", "")
SIGNATURE_CHECK_SECONDS = env_int("SIGNATURE_CHECK_SECONDS", 10)

AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365)
if AUDIT_RETENTION_DAYS < 190:
    raise ConfigError("AUDIT_RETENTION_DAYS must be at least 190 (等保 2.0 日志留存)")

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING" if TESTING else "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # WeasyPrint reports every layout step at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # Configured here, the background worker does not add a handler of its own (no doubled lines).
        "huey": {"handlers": ["console"], "propagate": False},
    },
}

NINJA_PAGINATION_PER_PAGE = 50
SERIALIZATION_MODULES = {"exactjson": "core.exactjson"}

# The issuing authority and its measures, as the measures print them: every page footer, notice,
# decision PDF and timeline names the authority from here (docs/notices.md).
AUTHORITY_NAME = "北京市怀柔区文化产业发展促进中心"
AUTHORITY_SHORT_NAME = "区文促中心"
MEASURES_TITLE = "《智能影像算力补助实施办法》"
MEASURES_ISSUED_ON = "2026年2月5日"
# Where clawed-back subsidies are repaid (追回决定书); set per deployment.
REPAYMENT_ACCOUNT_NAME = env_str("REPAYMENT_ACCOUNT_NAME", AUTHORITY_NAME)
REPAYMENT_ACCOUNT_BANK = env_str("REPAYMENT_ACCOUNT_BANK", "北京农村商业银行怀柔支行")
REPAYMENT_ACCOUNT_NUMBER = env_str("REPAYMENT_ACCOUNT_NUMBER", "0109 0000 0000 0000 0000")
