"""The metadata service's WSGI app.

A request is answered only when it comes through a metadata proxy: the proxy
names the network (``HDR_NETWORK_ID``) and the guest's source address
(``HDR_FORWARDED_FOR``) and signs both with the shared secret
(``HDR_SIGNATURE``, hex HMAC-SHA256 of ``"<network id> <address>"``). The
instance is the one whose port on that network holds that address; nothing
the guest itself sends chooses it, so one instance never reads another's.

Answers: a missing or wrong signature 403, an address no instance holds or a
path that does not exist 404, anything unexpected 500 with a plain message
(the traceback goes to the log only).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import posixpath
from collections.abc import Iterable
from typing import Any

import webob
import webob.exc
from oslo_log import log as logging

from novalite import context as nl_context
from novalite import exception
from novalite.metadata import content, lookup
from novalite.network.dataplane.state import HDR_FORWARDED_FOR, HDR_NETWORK_ID, HDR_SIGNATURE

LOG = logging.getLogger(__name__)

# NOTE: the largest body any request carries is a password the guest posts
# (MAX_BODY); larger ones up to READ_LIMIT get Nova's 400, beyond it the
# server's 413 without reading them.
MAX_BODY = content.PASSWORD_MAX
READ_LIMIT = 64 * 1024


def sign(secret: str, network_id: str, address: str) -> str:
    """The signature a proxy sends for a request from ``address`` on
    ``network_id``."""
    return hmac.new(secret.encode(), f"{network_id} {address}".encode(),
                    hashlib.sha256).hexdigest()


class MetadataApp:
    """WSGI app: ``MetadataApp(secret)``."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the metadata service needs [metadata] "
                             "metadata_proxy_shared_secret")
        self._secret = secret

    def largest_body(self) -> int:
        return READ_LIMIT

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        req = webob.Request(environ)
        try:
            resp = self._handle(req)
        except webob.exc.HTTPException as e:
            resp = e
        except Exception:
            LOG.exception("Metadata request %s %s failed", req.method, req.path_info)
            resp = webob.exc.HTTPInternalServerError(
                explanation="An unknown error has occurred. Please try your request again.")
        result: Iterable[bytes] = resp(environ, start_response)
        return result

    def _handle(self, req: webob.Request) -> webob.Response:
        if posixpath.normpath(req.path_info or "/") == "/":
            # NOTE: as Nova: the version list says nothing about anyone.
            return _text(content.render([*content.EC2_VERSIONS, "latest"]),
                         content.TEXT)
        network_id, address = self._verified_sender(req)
        md = self._metadata_of(network_id, address)
        try:
            value, mime = md.lookup(req.path_info)
        except content.NotFound:
            raise webob.exc.HTTPNotFound() from None
        except content.PasswordPath:
            return self._password(req, md)
        return _text(content.render(value), mime)

    def _verified_sender(self, req: webob.Request) -> tuple[str, str]:
        network_id = req.headers.get(HDR_NETWORK_ID)
        address = req.headers.get(HDR_FORWARDED_FOR)
        signature = req.headers.get(HDR_SIGNATURE)
        if not network_id or not address or not signature:
            LOG.warning("Metadata request without %s, %s and %s refused (from %s)",
                        HDR_NETWORK_ID, HDR_FORWARDED_FOR, HDR_SIGNATURE, req.remote_addr)
            raise webob.exc.HTTPForbidden(
                explanation=f"{HDR_NETWORK_ID}, {HDR_FORWARDED_FOR} and {HDR_SIGNATURE} "
                            "are required (requests come through a metadata proxy)")
        expected = sign(self._secret, network_id, address)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            LOG.warning("Metadata request for %s on network %s with a wrong signature "
                        "refused (from %s)", address, network_id, req.remote_addr)
            raise webob.exc.HTTPForbidden(explanation="Invalid proxy request signature.")
        return network_id, address

    @staticmethod
    def _metadata_of(network_id: str, address: str) -> content.InstanceMetadata:
        from novalite.network import api as network_api
        from novalite.objects.instance import Instance

        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise webob.exc.HTTPNotFound(explanation=f"{address!r} is not an IP address") \
                from None
        uuid = lookup.instance_uuid_by_address(network_id, address)
        if uuid is None:
            LOG.info("No instance holds %s on network %s", address, network_id)
            raise webob.exc.HTTPNotFound()
        try:
            instance = Instance.get_by_uuid(nl_context.get_admin_context(), uuid)
        except exception.InstanceNotFound:
            raise webob.exc.HTTPNotFound() from None
        return content.InstanceMetadata(instance, network_api.get_network_info(uuid),
                                        address=address)

    @staticmethod
    def _password(req: webob.Request, md: content.InstanceMetadata) -> webob.Response:
        """GET reads the password; POST sets it once (Nova's
        ``handle_password``: 409 when one is set, 400 when too large)."""
        if req.method in ("GET", "HEAD"):
            return _text(content.password_of(md.instance).encode(), content.TEXT)
        if req.method != "POST":
            raise webob.exc.HTTPBadRequest(explanation="GET and POST only are supported.")
        if content.password_of(md.instance):
            raise webob.exc.HTTPConflict()
        body = req.body_file.read(MAX_BODY + 1)
        if (req.content_length or 0) > MAX_BODY or len(body) > MAX_BODY:
            raise webob.exc.HTTPBadRequest(explanation="Request is too large.")
        try:
            password = body.decode("utf-8")
        except UnicodeDecodeError:
            raise webob.exc.HTTPBadRequest(explanation="The password is not UTF-8.") from None
        instance = md.instance
        instance.system_metadata = {**(instance.system_metadata or {}),
                                    **content.password_chunks(password)}
        instance.save()
        return _text(b"", content.TEXT)


def _text(body: bytes, mime: str) -> webob.Response:
    return webob.Response(body=body, content_type=mime, charset="UTF-8")
