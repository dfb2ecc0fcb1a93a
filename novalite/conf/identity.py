"""[identity] options: the built-in identity service (tokens, passwords,
lockout) that ``auth_strategy = novalite`` authenticates against."""

from oslo_config import cfg

identity_group = cfg.OptGroup("identity", title="Built-in identity service")

identity_opts = [
    cfg.IntOpt("token_expiration", default=3600, min=1,
               help="Seconds a token stays valid after it was issued."),
    cfg.StrOpt("key_repository", default=None, sample_default="$state_path/fernet-keys",
               help="Directory of the Fernet keys that sign and encrypt tokens "
                    "(created 0700 with one key on first use). Every API process "
                    "that validates tokens must read the same keys. Default: "
                    "fernet-keys under [DEFAULT] state_path."),
    cfg.IntOpt("max_active_keys", default=3, min=1,
               help="Keys kept by a rotation (novalite-manage token rotate-keys): "
                    "tokens made with an older key stop validating."),
    cfg.IntOpt("lockout_failure_attempts", default=5, min=0,
               help="Failed password authentications in a row after which a user "
                    "is locked out for lockout_duration seconds; 0 disables lockout."),
    cfg.IntOpt("lockout_duration", default=60, min=1,
               help="Seconds a user stays locked out after too many failed "
                    "password authentications."),
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
