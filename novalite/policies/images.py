"""The Compute API's image proxy (``/compute/v2.1/images``).

NOTE: Nova checks no rule here (the image service decides who sees what);
novalite names one so an operator can restrict the proxy."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

IMAGES = "os_compute_api:images:%s"


_rule = base.rule


rules: list[policy.RuleDefault] = [
    _rule(IMAGES % "index", "@", "List images (through the Compute API)",
          [("GET", "/images"), ("GET", "/images/detail")]),
    _rule(IMAGES % "show", "@", "Show an image (through the Compute API)",
          [("GET", "/images/{image_id}")]),
    _rule(IMAGES % "update", "@", "Change an image's metadata (through the Compute API; the "
          "image store allows its owner or an admin)",
          [("POST", "/images/{image_id}/metadata"), ("PUT", "/images/{image_id}/metadata"),
           ("PUT", "/images/{image_id}/metadata/{key}"),
           ("DELETE", "/images/{image_id}/metadata/{key}")]),
    _rule(IMAGES % "delete", "@", "Delete an image (through the Compute API; the image "
          "store allows its owner or an admin)", [("DELETE", "/images/{image_id}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
