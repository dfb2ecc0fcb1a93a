"""Who is asking: the RequestContext for each API request.

``noauth`` trusts the caller (tests only): it takes ``X-User-Id``,
``X-Project-Id`` and ``X-Roles`` (comma separated) as keystonemiddleware
would set them, and without them makes the caller an admin of project
``admin``. ``keystone`` is not implemented yet and answers 501, so a
deployment configured for it fails loudly instead of running unauthenticated.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

from oslo_log import log as logging

from novalite import context as nl_context
from novalite.api import errors
from novalite.conf import CONF

LOG = logging.getLogger(__name__)

_GLOBAL_ID = re.compile(r"^req-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
_warned = threading.Event()


def make_context(request_id: str, inbound_id: str | None,
                 authenticate: bool = True,
                 headers: Mapping[str, str] | None = None) -> nl_context.RequestContext:
    """The context for a request, made current so oslo.log prints its id.

    ``authenticate=False`` is for documents anyone may read (versions): they
    get an anonymous context whatever the strategy.
    """
    # NOTE: a caller's own request id (another service calling us) is kept as
    # the global id, as oslo.middleware does, only when it has the right form.
    global_id = inbound_id if inbound_id and _GLOBAL_ID.match(inbound_id) else None
    if not authenticate:
        ctx = nl_context.RequestContext(request_id=request_id, global_request_id=global_id)
    elif CONF.auth_strategy == "noauth":
        if not _warned.is_set():
            _warned.set()
            LOG.warning("auth_strategy=noauth: the API believes whoever the request "
                        "headers say the caller is (admin by default). Use it for tests only.")
        headers = headers or {}
        roles_header = headers.get("X-Roles")
        roles = ([r.strip() for r in roles_header.split(",") if r.strip()]
                 if roles_header is not None else ["admin", "member", "reader"])
        ctx = nl_context.RequestContext(user_id=headers.get("X-User-Id") or "admin",
                                        project_id=headers.get("X-Project-Id") or "admin",
                                        is_admin="admin" in roles, roles=roles,
                                        request_id=request_id, global_request_id=global_id)
    else:
        raise errors.HTTPError(
            501, f"auth_strategy={CONF.auth_strategy} is not implemented yet; set "
                 "[DEFAULT] auth_strategy = noauth (no authentication, for tests only).")
    ctx.update_store()
    return ctx
