"""``[notifications]``: versioned notifications (Nova's names) and the API's
live event stream (``GET /dashboard/events``).

Where notifications go is oslo.messaging's ``[oslo_messaging_notifications]``
(``transport_url``: the RPC bus unless set; ``driver``: novalite makes
``messagingv2`` its default, ``noop`` turns every notification off).
"""

from oslo_config import cfg

notifications_group = cfg.OptGroup(
    "notifications", title="Notifications",
    help="Versioned notifications on the message bus, as Nova's, and the live "
         "event stream of the API.")

notifications_opts = [
    cfg.StrOpt("notification_format", default="versioned",
               choices=[("both", "versioned and legacy unversioned notifications; "
                                 "novalite has no legacy format, so as versioned"),
                        ("versioned", "versioned notifications only"),
                        ("unversioned", "legacy unversioned notifications only; "
                                        "novalite has none, so nothing is emitted")],
               help="Which notifications are emitted (Nova's option). NOTE: Nova's "
                    "default is 'unversioned' for its legacy consumers; novalite "
                    "has no legacy format and its dashboard reads the versioned "
                    "ones, so its default is 'versioned'."),
    cfg.ListOpt("versioned_notifications_topics", default=["versioned_notifications"],
                help="Topics the versioned notifications are sent to (Nova's option)."),
    cfg.IntOpt("queue_size", default=1000, min=1,
               help="Notifications waiting to be sent in one process. They are "
                    "sent by a background thread so that no action waits on the "
                    "bus; beyond this many the newest are dropped (and logged)."),
    cfg.IntOpt("event_stream_seconds", default=55, min=1,
               help="How long one GET /dashboard/events stream lasts before the "
                    "API ends it (the client reconnects); a stream holds one of "
                    "the API's [api] threads."),
    cfg.IntOpt("event_stream_keepalive", default=15, min=1,
               help="Seconds between keep-alive comments on an idle event stream "
                    "(also how soon a stream notices its client went away)."),
    cfg.IntOpt("max_event_streams", default=0, min=0,
               help="Event streams one API process serves at a time; beyond it a "
                    "stream request gets 503. 0: a quarter of [api] threads "
                    "(at least 1), so streams never take every request thread."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(notifications_group)
    conf.register_opts(notifications_opts, group=notifications_group)


def list_opts() -> dict:
    return {notifications_group: notifications_opts}
