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
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(database_group)
    conf.register_opts(database_opts, group=database_group)


def list_opts() -> dict:
    return {database_group: database_opts}
