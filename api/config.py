"""Settings read once from the environment into a frozen, validated Struct."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import msgspec

Mode = Literal["development", "production", "test"]
MODES: tuple[str, ...] = ("development", "production", "test")
Pooler = Literal["none", "pgbouncer"]
POOLERS: tuple[str, ...] = ("none", "pgbouncer")
LOCAL_STATE_DIR = Path(".caravan")


class ConfigError(Exception):
    """Raised at start-up when an environment variable holds an unusable value.

    The message names every bad variable at once, so an operator fixes them in one go.
    """


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the app needs from its environment. Nothing reads os.environ elsewhere."""

    mode: Mode = "development"
    database_url: str | None = None
    #: a connection to PostgreSQL itself, not through the pooler: migrations (an advisory lock),
    #: the worker and the CLI's commands, which hold session state a transaction pooler loses
    direct_database_url: str | None = None
    #: what DATABASE_URL points at: PostgreSQL ("none") or PgBouncer in transaction pooling
    database_pooler: Pooler = "none"
    secret_key: str
    public_url: str = "http://127.0.0.1:8000"
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1_000_000
    session_ttl_hours: int = 24 * 30
    argon2_memory_kib: int = 19_456
    argon2_time_cost: int = 2
    pool_min_size: int = 2
    pool_max_size: int = 10
    pool_acquire_timeout_s: float = 5.0
    statement_timeout_ms: int = 10_000
    #: failed logins for one email from one client before each further attempt from that client
    #: needs a solved challenge; see api/services/accounts.py
    login_attempts_per_window: int = 10
    login_window_s: int = 900
    #: failed logins for one email from all clients after which a client that failed even once
    #: needs a solved challenge (a client that never failed, such as the owner's, still does not)
    login_global_failures: int = 100
    #: wrong two-factor codes after a correct password, per account and login window
    totp_attempts_per_window: int = 5
    #: peers (addresses or CIDRs) whose Forwarded / X-Forwarded-For names the client
    trusted_proxies: tuple[str, ...] = ()
    #: proof-of-work: the solver tries up to this many numbers (half of it on average)
    challenge_difficulty: int = 200_000
    #: how long an issued challenge or time-lock token may be used
    challenge_ttl_s: int = 600
    #: a time-lock token (for clients without JavaScript) becomes valid this long after issue
    challenge_wait_s: int = 5
    #: past its free threshold a limit still lets this many times as many requests through
    #: when each carries a solved challenge; beyond that, 429
    rate_ceiling_factor: int = 100
    max_guests_per_rsvp: int = 10
    hsts_seconds: int = 0
    secret_key_generated: bool = False
    #: requests per key per minute on partner endpoints
    partner_rate_limit: int = 120
    #: tests only: let webhooks and feed imports use http:// to loopback addresses
    outbound_allow_loopback: bool = False
    #: abuse limits as (requests, window in seconds), counted per client (a keyed hash of its
    #: address, never the address) or per account; see api/services/rate_limits.py
    rate_signup_per_client: tuple[int, int] = (20, 3600)
    rate_login_per_client: tuple[int, int] = (20, 60)
    rate_rsvp_per_client: tuple[int, int] = (60, 3600)
    rate_rsvp_per_account: tuple[int, int] = (30, 3600)
    rate_booking_per_client: tuple[int, int] = (60, 3600)
    rate_booking_per_account: tuple[int, int] = (30, 3600)
    rate_listing_per_client: tuple[int, int] = (300, 60)
    rate_application_per_client: tuple[int, int] = (60, 3600)
    rate_time_lock_per_client: tuple[int, int] = (100, 3600)
    #: retention defaults, and the most any org may set (orgs can only shorten them); see
    #: api/services/retention.py
    retain_rsvp_contact_hours: int = 24
    retain_ride_pickup_hours: int = 24
    retain_trip_emergency_days: int = 7
    retain_audit_days: int = 90

    @property
    def session_database_url(self) -> str | None:
        """Where session state is safe: the direct connection if there is one, else DATABASE_URL."""
        return self.direct_database_url or self.database_url


def _int(env: Mapping[str, str], name: str, default: int, errors: list[str], low: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        errors.append(f"{name} must be a whole number, got {raw!r}")
        return default
    if value < low:
        errors.append(f"{name} must be at least {low}, got {value}")
    return value


#: setting name, environment variable; the value is "REQUESTS/SECONDS", e.g. "20/3600"
RATE_LIMIT_ENV = (
    ("rate_signup_per_client", "CARAVAN_RATE_SIGNUP"),
    ("rate_login_per_client", "CARAVAN_RATE_LOGIN_CLIENT"),
    ("rate_rsvp_per_client", "CARAVAN_RATE_RSVP_CLIENT"),
    ("rate_rsvp_per_account", "CARAVAN_RATE_RSVP_ACCOUNT"),
    ("rate_booking_per_client", "CARAVAN_RATE_BOOKING_CLIENT"),
    ("rate_booking_per_account", "CARAVAN_RATE_BOOKING_ACCOUNT"),
    ("rate_listing_per_client", "CARAVAN_RATE_LISTING"),
    ("rate_application_per_client", "CARAVAN_RATE_APPLICATION_CLIENT"),
    ("rate_time_lock_per_client", "CARAVAN_RATE_TIME_LOCK"),
)
#: test mode lifts the abuse limits unless set, so suites that sign up and book hundreds of
#: people from one address run; tests of the limits set them explicitly
_TEST_MODE_RATE = 1_000_000


def _rates(env: Mapping[str, str], mode: str, errors: list[str]) -> dict[str, tuple[int, int]]:
    defaults = {f.name: f.default for f in msgspec.structs.fields(Settings)}
    rates: dict[str, tuple[int, int]] = {}
    for field, name in RATE_LIMIT_ENV:
        default: tuple[int, int] = defaults[field]
        raw = env.get(name, "")
        if not raw:
            rates[field] = (_TEST_MODE_RATE, default[1]) if mode == "test" else default
            continue
        count, _, window = raw.partition("/")
        try:
            value = (int(count), int(window))
        except ValueError:
            errors.append(f"{name} must look like REQUESTS/SECONDS (e.g. 20/3600), got {raw!r}")
            continue
        if value[0] < 1 or value[1] < 1:
            errors.append(f"{name} needs at least 1 request per at least 1 second, got {raw!r}")
            continue
        rates[field] = value
    return rates


#: setting, environment variable, least and most allowed: a deployment may keep personal data
#: at most 30 days after the event, ride or trip, and audit rows at most a year
RETENTION_ENV = (
    ("retain_rsvp_contact_hours", "CARAVAN_RETAIN_RSVP_CONTACT_HOURS", 0, 30 * 24),
    ("retain_ride_pickup_hours", "CARAVAN_RETAIN_RIDE_PICKUP_HOURS", 0, 30 * 24),
    ("retain_trip_emergency_days", "CARAVAN_RETAIN_TRIP_EMERGENCY_DAYS", 0, 30),
    ("retain_audit_days", "CARAVAN_RETAIN_AUDIT_DAYS", 1, 365),
)


def _retention(env: Mapping[str, str], errors: list[str]) -> dict[str, int]:
    defaults = {f.name: f.default for f in msgspec.structs.fields(Settings)}
    values: dict[str, int] = {}
    for field, name, low, high in RETENTION_ENV:
        value = _int(env, name, defaults[field], errors, low=low)
        if value > high:
            errors.append(f"{name} must be at most {high}, got {value}")
        values[field] = value
    return values


def _trusted_proxies(env: Mapping[str, str], errors: list[str]) -> tuple[str, ...]:
    raw = env.get("CARAVAN_TRUSTED_PROXIES", "")
    networks: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            errors.append(
                f"CARAVAN_TRUSTED_PROXIES holds {item!r}, which is not an address or CIDR "
                "(e.g. 10.0.0.0/8, 127.0.0.1, ::1)"
            )
    return tuple(networks)


def _check_database_url(url: str, errors: list[str], name: str = "DATABASE_URL") -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        errors.append(
            f"{name} must start with postgresql:// (for example postgresql://user@host:5432/db)"
        )
        return
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        errors.append(f"{name} has a malformed port")
    if not parts.hostname and "host=" not in parts.query:
        errors.append(f"{name} names no host")


def _pooler(env: Mapping[str, str], direct_url: str | None, errors: list[str]) -> str:
    """PgBouncer when named, or when a direct URL says DATABASE_URL is something else."""
    pooler = env.get("CARAVAN_DATABASE_POOLER", "") or ("pgbouncer" if direct_url else "none")
    if pooler not in POOLERS:
        errors.append(
            f"CARAVAN_DATABASE_POOLER must be one of {', '.join(POOLERS)}, got {pooler!r}"
        )
        return "none"
    if pooler == "pgbouncer" and direct_url is None:
        errors.append(
            "CARAVAN_DATABASE_POOLER=pgbouncer needs CARAVAN_DIRECT_DATABASE_URL, a connection "
            "to PostgreSQL itself for migrations and the worker (transaction pooling would "
            "strand their session locks on whichever server connection took them)"
        )
    return pooler


def _local_secret() -> str:
    """A development secret kept under .caravan/ so sessions survive restarts."""
    path = LOCAL_STATE_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    LOCAL_STATE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; raise ConfigError listing every bad value."""
    env = os.environ if env is None else env
    errors: list[str] = []
    mode = env.get("CARAVAN_MODE", "development")
    if mode not in MODES:
        errors.append(f"CARAVAN_MODE must be one of {', '.join(MODES)}, got {mode!r}")
        mode = "production"

    database_url = env.get("DATABASE_URL") or env.get("CARAVAN_DATABASE_URL") or None
    if database_url is not None:
        _check_database_url(database_url, errors)
    direct_url = env.get("CARAVAN_DIRECT_DATABASE_URL") or None
    if direct_url is not None:
        _check_database_url(direct_url, errors, "CARAVAN_DIRECT_DATABASE_URL")
        if database_url is None:
            errors.append(
                "CARAVAN_DIRECT_DATABASE_URL is set but DATABASE_URL is not: set DATABASE_URL "
                "to the pooler (PgBouncer) and CARAVAN_DIRECT_DATABASE_URL to PostgreSQL"
            )
    pooler = _pooler(env, direct_url, errors)

    secret = env.get("CARAVAN_SECRET_KEY", "")
    generated = False
    if not secret:
        if mode == "production":
            errors.append(
                "CARAVAN_SECRET_KEY is required in production mode "
                "(at least 32 characters; e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        else:
            secret = _local_secret() if mode == "development" else secrets.token_urlsafe(48)
            generated = True
    elif len(secret) < 32:
        errors.append("CARAVAN_SECRET_KEY must be at least 32 characters long")

    public_url = env.get("CARAVAN_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    if urlsplit(public_url).scheme not in ("http", "https"):
        errors.append(f"CARAVAN_PUBLIC_URL must be an http(s) URL, got {public_url!r}")

    cors = tuple(o.strip() for o in env.get("CARAVAN_CORS_ORIGINS", "").split(",") if o.strip())

    settings_kwargs = {
        "max_body_bytes": _int(env, "CARAVAN_MAX_BODY_BYTES", 1_000_000, errors, low=1024),
        "session_ttl_hours": _int(env, "CARAVAN_SESSION_TTL_HOURS", 24 * 30, errors, low=1),
        "argon2_memory_kib": _int(env, "CARAVAN_ARGON2_MEMORY_KIB", 19_456, errors, low=8),
        "argon2_time_cost": _int(env, "CARAVAN_ARGON2_TIME_COST", 2, errors, low=1),
        "pool_min_size": _int(env, "CARAVAN_POOL_MIN_SIZE", 2, errors, low=0),
        "pool_max_size": _int(env, "CARAVAN_POOL_MAX_SIZE", 10, errors, low=1),
        "statement_timeout_ms": _int(env, "CARAVAN_STATEMENT_TIMEOUT_MS", 10_000, errors, low=100),
        # how long a request waits for a pooled connection before it answers 503
        "pool_acquire_timeout_s": _int(
            env, "CARAVAN_POOL_ACQUIRE_TIMEOUT_MS", 5_000, errors, low=10
        )
        / 1000,
        "login_attempts_per_window": _int(env, "CARAVAN_LOGIN_ATTEMPTS", 10, errors, low=1),
        "max_guests_per_rsvp": _int(env, "CARAVAN_MAX_GUESTS_PER_RSVP", 10, errors, low=0),
        "hsts_seconds": _int(env, "CARAVAN_HSTS_SECONDS", 0, errors, low=0),
        "partner_rate_limit": _int(env, "CARAVAN_PARTNER_RATE_LIMIT", 120, errors, low=1),
        "login_global_failures": _int(env, "CARAVAN_LOGIN_GLOBAL_FAILURES", 100, errors, low=1),
        "totp_attempts_per_window": _int(env, "CARAVAN_TOTP_ATTEMPTS", 5, errors, low=1),
        "challenge_difficulty": _int(env, "CARAVAN_CHALLENGE_DIFFICULTY", 200_000, errors, low=1),
        "challenge_ttl_s": _int(env, "CARAVAN_CHALLENGE_TTL_S", 600, errors, low=10),
        "challenge_wait_s": _int(env, "CARAVAN_CHALLENGE_WAIT_S", 5, errors, low=0),
        "rate_ceiling_factor": _int(env, "CARAVAN_RATE_CEILING_FACTOR", 100, errors, low=1),
        "trusted_proxies": _trusted_proxies(env, errors),
    }
    rates = _rates(env, mode, errors)
    retention = _retention(env, errors)
    allow_loopback = env.get("CARAVAN_OUTBOUND_ALLOW_LOOPBACK", "") in ("1", "true", "yes")
    if allow_loopback and mode == "production":
        errors.append(
            "CARAVAN_OUTBOUND_ALLOW_LOOPBACK is for tests; it cannot be set in production"
        )
    if errors:
        raise ConfigError("Invalid configuration:\n  - " + "\n  - ".join(errors))
    return Settings(
        mode=mode,  # type: ignore[arg-type]
        database_url=database_url,
        direct_database_url=direct_url,
        database_pooler=pooler,  # type: ignore[arg-type]
        secret_key=secret,
        public_url=public_url,
        cors_origins=cors,
        secret_key_generated=generated,
        outbound_allow_loopback=allow_loopback,
        **settings_kwargs,  # type: ignore[arg-type]
        **rates,  # type: ignore[arg-type]
        **retention,  # type: ignore[arg-type]
    )
