"""[identity] options: the built-in identity service (tokens, passwords,
lockout) that ``auth_strategy = novalite`` authenticates against."""

from oslo_config import cfg

identity_group = cfg.OptGroup("identity", title="Built-in identity service")

identity_opts = [
    cfg.IntOpt("token_expiration", default=3600, min=1,
               help="Seconds a token stays valid after it was issued."),
    cfg.IntOpt("token_cache_time", default=5, min=0,
               help="Seconds an API process keeps what validating a token read from "
                    "the database (its user, project and roles), so that repeated "
                    "requests with one token read it once. Identity changes made in "
                    "the same process (revocation, password change, disabled user or "
                    "project, removed role) apply at once; made by another process "
                    "(another API worker, novalite-manage), within this many seconds. "
                    "0 disables the cache."),
    cfg.StrOpt("key_repository", default=None, sample_default="$state_path/fernet-keys",
               help="Directory of the Fernet keys that sign and encrypt tokens "
                    "(created 0700 with one key on first use). Every API process "
                    "that validates tokens must read the same keys. Default: "
                    "fernet-keys under [DEFAULT] state_path."),
    cfg.IntOpt("max_active_keys", default=3, min=1,
               help="Keys kept by a rotation (novalite-manage token rotate-keys): "
                    "tokens made with an older key stop validating."),
    cfg.IntOpt("lockout_failure_attempts", default=0, min=0,
               help="Failed password authentications in a row, for one user from one "
                    "source address, after which that user is locked out from that "
                    "address for lockout_duration seconds (even with the right "
                    "password). 0 (the default, as Keystone's [security_compliance] "
                    "option) disables lockout. NOTE: counted per user and source "
                    "(an IPv4 address or an IPv6 /64), so a caller elsewhere cannot "
                    "lock the real user out; a success or a new password clears the "
                    "count."),
    cfg.IntOpt("lockout_duration", default=1800, min=1,
               help="Seconds a user stays locked out (from the source address the "
                    "failures came from) after lockout_failure_attempts failed "
                    "password authentications; failures older than this are forgotten."),
    cfg.IntOpt("auth_throttle_burst", default=10, min=0,
               help="Failed password authentications a source address (an IPv4 "
                    "address or an IPv6 /64) may make in a row, whatever the user, "
                    "before further password authentications from it are refused "
                    "with 429 Too Many Requests and a Retry-After header, without "
                    "checking the password. Counted in each API process. 0 disables "
                    "the throttle."),
    cfg.FloatOpt("auth_throttle_rate", default=6.0, min=0.001,
                 help="Failed password authentications per minute a throttled source "
                      "address regains (a token bucket of auth_throttle_burst)."),
    cfg.IntOpt("password_hash_rounds", default=12, min=4, max=31,
               help="bcrypt cost factor (log2 of the rounds) for new password hashes."),
    cfg.StrOpt("region_name", default="RegionOne",
               help="Region of every endpoint in the token's service catalog."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(identity_group)
    conf.register_opts(identity_opts, group=identity_group)


def list_opts() -> dict:
    return {identity_group: identity_opts}
