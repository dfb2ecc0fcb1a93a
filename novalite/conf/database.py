"""[database] options."""

from oslo_config import cfg

database_group = cfg.OptGroup("database", title="Database options")

database_opts = [
    cfg.StrOpt("connection", secret=True,
               help="SQLAlchemy URL of the database: sqlite:///PATH, "
                    "postgresql+psycopg://USER@HOST/DB or "
                    "mysql+pymysql://USER:PASS@HOST/DB. Defaults to a SQLite "
                    "file in state_path."),
    cfg.BoolOpt("connection_debug", default=False,
                help="Log every SQL statement."),
    cfg.IntOpt("max_pool_size", default=10, min=1,
               help="Connections kept open in the pool (not SQLite)."),
    cfg.IntOpt("max_overflow", default=40, min=0,
               help="Connections allowed beyond max_pool_size."),
    # NOTE: the names and meaning of oslo.db's own [database] retry options.
    cfg.IntOpt("db_max_retries", default=10, min=0,
               help="How many times a database call is run again after the "
                    "connection was lost or the database chose it as a deadlock "
                    "victim (e.g. while PostgreSQL restarts), before its error "
                    "is returned. 0 disables retrying."),
    cfg.FloatOpt("db_retry_interval", default=0.25, min=0,
                 help="Seconds before the first retry of a database call."),
    cfg.BoolOpt("db_inc_retry_interval", default=True,
                help="Double the interval after each retry, up to "
                     "db_max_retry_interval."),
    cfg.FloatOpt("db_max_retry_interval", default=2.0, min=0,
                 help="Longest wait between two retries of a database call, in "
                      "seconds. With the defaults a call gives up after about "
                      "16 s without the database."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(database_group)
    conf.register_opts(database_opts, group=database_group)


def list_opts() -> dict:
    return {database_group: database_opts}
