"""[image_cache] options: ageing of the compute host's cache of base images
(Nova's names, defaults and meaning)."""

from oslo_config import cfg

image_cache_group = cfg.OptGroup(
    "image_cache", title="Image cache options",
    help="The cache of base images on a compute host ([libvirt] image_cache_path): which "
         "unused images are removed, and when.")

image_cache_opts = [
    cfg.IntOpt("manager_interval", default=2400, min=-1,
               help="Seconds between two passes of the image cache manager, which "
                    "removes base images no instance on the host uses (Nova's option). "
                    "0 runs it at the default periodic interval (60 s), -1 never."),
    cfg.BoolOpt("remove_unused_base_images", default=True,
                help="Remove cached base images no instance on this host uses (none "
                     "boots from it and no instance disk has it as its backing file) "
                     "once they are older than "
                     "remove_unused_original_minimum_age_seconds. Images deleted from "
                     "the Image API go the same way. False keeps every cached image."),
    cfg.IntOpt("remove_unused_original_minimum_age_seconds", default=86400, min=0,
               help="Seconds an unused base image is kept after its last use (its "
                    "download, a build from it, or a pass that found it in use), so "
                    "that rebuilding from a recent image needs no new download. Also "
                    "the age after which an interrupted download's partial file is "
                    "removed."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(image_cache_group)
    conf.register_opts(image_cache_opts, group=image_cache_group)


def list_opts() -> dict:
    return {image_cache_group: image_cache_opts}
