"""[image_api] options: the Image API novalite serves (Glance's names and
defaults where Glance has the same option)."""

from oslo_config import cfg

image_api_group = cfg.OptGroup("image_api", title="Image API options",
                               help="The Image API (Glance v2 subset) under /image.")

image_api_opts = [
    cfg.IntOpt("image_size_cap", default=1099511627776, min=1,
               help="Largest image upload in bytes (Glance's image_size_cap, 1 TiB). A "
                    "larger upload is refused with 413 and the image is killed."),
    cfg.IntOpt("image_property_quota", default=128, min=-1,
               help="Custom properties an image may have (Glance's option; -1: no "
                    "limit). More are refused with 413."),
    cfg.IntOpt("image_tag_quota", default=128, min=-1,
               help="Tags an image may have (Glance's option; -1: no limit). More are "
                    "refused with 413."),
    # NOTE: Glance keeps these per-project limits in Keystone (unified
    # limits, resource names as here); novalite has them as defaults for
    # every project. The usage counts are Glance's.
    cfg.IntOpt("image_count_total", default=100, min=-1,
               help="Images a project may have, in any status but killed or deleted "
                    "(Glance's image_count_total; -1: no limit). Creating one more is "
                    "refused with 413."),
    cfg.IntOpt("image_size_total", default=10240, min=-1,
               help="Mebibytes of image data a project's images may hold in total "
                    "(Glance's image_size_total; -1: no limit). An upload that would "
                    "pass it is refused with 413 (from its Content-Length, or as soon as "
                    "the streamed data passes it) and the image stays queued."),
    cfg.IntOpt("image_count_uploading", default=10, min=-1,
               help="Uploads a project may have in progress at once (Glance's "
                    "image_count_uploading; -1: no limit). One more is refused with 413 "
                    "and its image stays queued."),
    cfg.IntOpt("limit_param_default", default=25, min=1,
               help="Images in one page of GET /v2/images without a limit (Glance's "
                    "limit_param_default)."),
    cfg.IntOpt("api_limit_max", default=1000, min=1,
               help="Most images one page of GET /v2/images returns whatever the limit "
                    "asked (Glance's api_limit_max)."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(image_api_group)
    conf.register_opts(image_api_opts, group=image_api_group)


def list_opts() -> dict:
    return {image_api_group: image_api_opts}
